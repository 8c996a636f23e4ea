"""What was worked out from a line, kept for the lines seen lately.

A source prints its chrome line for line on every page, syndicated copies repeat a story's
lines, and HTML is cleaned twice (its main content and its visible text share the story): many
of a page's lines have been keyed and read before. Short lines (chrome, short paragraphs) are
kept up to `lines` of them, and the cache starts afresh when that is reached, which is cheaper
than keeping recency on every hit. Long lines, story paragraphs, seldom come back beyond a
page or two: only the `long_lines` seen last are kept, up to `max_chars` each.

Callers may look a line up in `short` themselves (a dict lookup, the hot path) and ask
get_or_make() only when it is not there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class LineCache(Generic[V]):
    def __init__(
        self, lines: int, long_lines: int, short_chars: int = 300, max_chars: int = 20_000
    ) -> None:
        self.lines = lines
        self.long_lines = long_lines
        self.short_chars = short_chars
        self.max_chars = max_chars
        self.short: dict[str, V] = {}
        self._long: dict[str, V] = {}

    def get_or_make(self, line: str, make: Callable[[str], V]) -> V:
        """The value kept for `line`; made from it and kept when there is none."""
        kept = self.short if len(line) <= self.short_chars else self._long
        if line in kept:
            return kept[line]
        value = make(line)
        self.put(line, value)
        return value

    def __contains__(self, line: str) -> bool:
        return line in self.short or line in self._long

    def put(self, line: str, value: V) -> None:
        if len(line) <= self.short_chars:
            if len(self.short) >= self.lines:
                self.short.clear()
            self.short[line] = value
        elif len(line) <= self.max_chars:
            if len(self._long) >= self.long_lines:
                # Dicts keep insertion order: the line put longest ago goes.
                del self._long[next(iter(self._long))]
            self._long[line] = value

    def clear(self) -> None:
        self.short.clear()
        self._long.clear()
