"""Where the learned chrome of each source lives: in this process
(ChromeModel), or in the index's Redis (store/redis_chrome.py) so that every
server replica cleans with what all of them have learned.

Cleaning is synchronous CPU work, so it reads chrome from a local view
(`lines`); the pipeline asks the state for the current chrome of a batch's
sources just before indexing it, and cleans again the rare article whose
chrome changed since it was cleaned (dedup.py). With one process the local
view is the model itself and nothing is ever cleaned twice.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Protocol

from storydedup.cleaning.chrome import ChromeModel


class ChromeLines(Protocol):
    def chrome_keys(self, source: str, keys: Iterable[int]) -> set[int]:
        """Which of these line keys are chrome of `source`."""

    def known(self, source: str) -> frozenset[int]:
        """All line keys that are chrome of `source` now."""


class ChromeState(Protocol):
    @property
    def lines(self) -> ChromeLines:
        """The local view cleaning reads."""

    async def lookup(self, queries: Sequence[tuple[str, Sequence[int]]]) -> list[set[int]]:
        """For each (source, line keys), the keys that are chrome now; the
        local view is brought up to date with the answers."""

    async def learn(self, seen: Sequence[tuple[str, Sequence[int], int]]) -> None:
        """Records the lines of indexed articles: (source, line keys, cluster)."""


class LocalChromeState:
    """The chrome model of this process only."""

    def __init__(self, model: ChromeModel | None = None) -> None:
        self.model = model if model is not None else ChromeModel()

    @property
    def lines(self) -> ChromeLines:
        return self.model

    async def lookup(self, queries: Sequence[tuple[str, Sequence[int]]]) -> list[set[int]]:
        return [self.model.chrome_keys(source, keys) for source, keys in queries]

    async def learn(self, seen: Sequence[tuple[str, Sequence[int], int]]) -> None:
        for source, keys, cluster in seen:
            self.model.learn(source, keys, cluster)
            await asyncio.sleep(0)  # a turn for other calls between articles


class ChromeCache:
    """A local view of shared chrome: each source's chrome lines as of the
    last lookup, tagged with how many articles the source had then, for the
    most recently used `max_sources` sources."""

    def __init__(self, max_sources: int = 20000) -> None:
        self.max_sources = max_sources
        self._known: OrderedDict[str, tuple[int, frozenset[int]]] = OrderedDict()

    def chrome_keys(self, source: str, keys: Iterable[int]) -> set[int]:
        known = self._known.get(source)
        return set() if known is None else set(known[1].intersection(keys))

    def known(self, source: str) -> frozenset[int]:
        known = self._known.get(source)
        return frozenset() if known is None else known[1]

    def version(self, source: str) -> int:
        """Articles of the source when last looked up; -1 if never."""
        known = self._known.get(source)
        return -1 if known is None else known[0]

    def replace(self, source: str, version: int, chrome: frozenset[int]) -> None:
        self._known[source] = (version, chrome)
        self._known.move_to_end(source)
        if len(self._known) > self.max_sources:
            self._known.popitem(last=False)
