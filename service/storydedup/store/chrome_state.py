"""Where the page chrome learned per source lives (cleaning/chrome.py says
what counts as chrome; this port holds what has been seen).

Two adapters behave alike (tests/test_chrome_state.py runs both):
- MemoryChromeState: in this process, for a server without Redis;
- RedisChromeState: one hash per source, so that the processes and replicas
  of one deployment learn together and a restart does not start cold. Each
  key carries the source's hash tag, so a source's state is one key in one
  slot, ready for Redis Cluster.

Both are bounded and forget with age: at most `max_lines` lines per source,
least recently seen first (Redis trims in batches, so a source may briefly
hold a quarter more); a line not seen in the last `forget_after` articles of
its source is no longer chrome; a source not seen for `ttl_ms` is forgotten
whole (Redis key TTL; in process, the least recently seen of more than
`max_sources` sources go first).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

import redis.asyncio as aioredis
import xxhash
from redis import exceptions as redis_errors

from storydedup.cleaning.chrome import ChromeModel
from storydedup.store.base import StoreUnavailableError

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class ChromeSettings:
    """Bounds of the learned chrome (docs/matching.md)."""

    # A line is chrome once seen in articles of this many story clusters.
    min_clusters: int = 3
    max_lines: int = 2000
    forget_after: int = 5000
    # In process only: Redis forgets sources by ttl_ms.
    max_sources: int = 20000
    ttl_ms: int = 7 * DAY_MS


@dataclass(frozen=True, slots=True)
class SeenLines:
    """The lines of one ingested article, for learning its source's chrome."""

    source: str
    line_keys: Sequence[int]
    cluster: int


class ChromeState(Protocol):
    async def learn(self, articles: Sequence[SeenLines]) -> None:
        """Records the articles' lines, in order."""
        ...

    async def known(self, sources: Collection[str]) -> dict[str, frozenset[int]]:
        """The chrome line keys of each source now."""
        ...


def _distinct_keys(keys: Sequence[int]) -> list[int]:
    # Blank lines have key 0; a line repeated on a page is seen once.
    return sorted({key for key in keys if key})


class MemoryChromeState:
    def __init__(self, settings: ChromeSettings = ChromeSettings()) -> None:
        self._model = ChromeModel(
            min_clusters=settings.min_clusters,
            max_lines=settings.max_lines,
            max_sources=settings.max_sources,
            forget_after=settings.forget_after,
        )

    async def learn(self, articles: Sequence[SeenLines]) -> None:
        for article in articles:
            if article.source:
                keys = _distinct_keys(article.line_keys)
                self._model.learn(article.source, keys, article.cluster)

    async def known(self, sources: Collection[str]) -> dict[str, frozenset[int]]:
        return {source: self._model.known(source) for source in sources}


def chrome_key(key_prefix: str, source: str) -> str:
    """The lines hash of one source: the store's key prefix without its own
    hash tag (namespaces hold no braces), then a tag made of a digest of the
    source (sources may hold braces), so that Redis Cluster places each
    source's keys by the source: "sd:default:chrome:{1f0e...}". Its chrome
    lines are in the same key with ":known" appended (same slot)."""
    untagged = key_prefix.replace("{", "").replace("}", "")
    return f"{untagged}chrome:{{{xxhash.xxh3_64_hexdigest(source.encode())}}}"


def _keys(key_prefix: str, source: str) -> list[str]:
    lines = chrome_key(key_prefix, source)
    return [lines, lines + ":known"]


def _script(name: str) -> str:
    return (resources.files("storydedup.store") / "lua" / f"{name}.lua").read_text()


class RedisChromeState:
    def __init__(
        self,
        client: aioredis.Redis,
        key_prefix: str,
        settings: ChromeSettings = ChromeSettings(),
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._settings = settings
        self._learn = client.register_script(_script("chrome_learn"))
        self._known = client.register_script(_script("chrome_known"))

    async def learn(self, articles: Sequence[SeenLines]) -> None:
        s = self._settings
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for article in articles:
                    if not article.source:
                        continue
                    await self._learn(
                        keys=_keys(self._prefix, article.source),
                        args=[
                            article.cluster,
                            s.min_clusters,
                            s.max_lines,
                            s.forget_after,
                            s.ttl_ms,
                            *(key.to_bytes(8, "big") for key in _distinct_keys(article.line_keys)),
                        ],
                        client=pipe,
                    )
                await pipe.execute()
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as error:
            raise StoreUnavailableError(f"Redis unavailable: {type(error).__name__}") from error

    async def known(self, sources: Collection[str]) -> dict[str, frozenset[int]]:
        s = self._settings
        ordered = [source for source in sources if source]
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for source in ordered:
                    await self._known(
                        keys=_keys(self._prefix, source),
                        args=[s.forget_after],
                        client=pipe,
                    )
                replies: list[Any] = await pipe.execute()
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as error:
            raise StoreUnavailableError(f"Redis unavailable: {type(error).__name__}") from error
        return {
            source: frozenset(int.from_bytes(field, "big") for field in reply)
            for source, reply in zip(ordered, replies, strict=True)
        }
