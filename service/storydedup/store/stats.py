"""What a namespace holds: articles and clusters in the retention window,
the biggest clusters, learned chrome per source and, on request, the bytes
its keys take in Redis. `storydedup-admin stats` prints it; the server's
index gauges are refreshed from it now and then (api/server.py,
INDEX_REFRESH_S), never at a scrape.

It reads with SCAN, as the consistency checker does: its cost grows with
the namespace (about one round trip per 1,000 keys, and one ZCARD per
cluster of two or more articles), and on a busy namespace it is a
snapshot taken over the scan's duration.

Clusters are counted without reading records: every article is in one
cluster, and only a cluster of two or more keeps a member set (a lone
founder keeps none, store/redis_store.py), so clusters = articles - sum
over member sets of (size - 1).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from storydedup.store.memory import MemoryStore

# Keys per SCAN call and commands per pipeline.
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class NamespaceStats:
    articles: int
    clusters: int
    # (cluster number, articles), biggest first.
    biggest_clusters: list[tuple[int, int]] = field(default_factory=list)
    chrome_lines: int = 0
    # (source key in hex, as store/redis_chrome.py names it: the xxh64 of
    # the source; chrome lines), most first. Sources are not stored by name.
    chrome_by_source: list[tuple[str, int]] = field(default_factory=list)
    # Bytes the namespace's keys take (MEMORY USAGE), when asked for.
    redis_bytes: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "clusters": self.clusters,
            "biggest_clusters": [
                {"cluster": f"c{c}", "articles": n} for c, n in self.biggest_clusters
            ],
            "chrome_lines": self.chrome_lines,
            "chrome_by_source": [{"source_key": s, "lines": n} for s, n in self.chrome_by_source],
            "redis_bytes": self.redis_bytes,
        }


async def _each(client: aioredis.Redis, command: tuple[str, ...], keys: list[bytes]) -> list[Any]:
    """The replies of `command KEY` for every key, in pipelines of _BATCH."""
    replies: list[Any] = []
    for start in range(0, len(keys), _BATCH):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + _BATCH]:
            pipe.execute_command(*command, key)
        replies.extend(await pipe.execute())
    return replies


async def redis_namespace_stats(
    client: aioredis.Redis, prefix: str, top: int = 10, with_bytes: bool = False
) -> NamespaceStats:
    """Stats of the single-Redis namespace whose keys start with `prefix`."""
    raw_prefix = prefix.encode()
    articles = 0
    members_sets: list[bytes] = []
    chrome_sets: list[bytes] = []
    every_key: list[bytes] = []
    async for raw_key in client.scan_iter(match=prefix.replace("[", "\\[") + "*", count=_BATCH):
        key: bytes = raw_key
        kind = key[len(raw_prefix) :]
        if kind.startswith(b"a:"):
            articles += 1
        elif kind.startswith(b"c:"):
            members_sets.append(key)
        elif kind.startswith(b"z:"):
            chrome_sets.append(key)
        if with_bytes:
            every_key.append(key)

    skip = len(raw_prefix) + 2  # the prefix and the kind ("c:", "z:")
    set_sizes = await _each(client, ("ZCARD",), members_sets)
    sizes = [(int(key[skip:]), int(n)) for key, n in zip(members_sets, set_sizes, strict=True)]
    line_counts = await _each(client, ("SCARD",), chrome_sets)
    chrome = [(key[skip:].hex(), int(n)) for key, n in zip(chrome_sets, line_counts, strict=True)]
    used: int | None = None
    if with_bytes:
        used = sum(int(r or 0) for r in await _each(client, ("MEMORY", "USAGE"), every_key))

    return NamespaceStats(
        articles=articles,
        clusters=articles - sum(size - 1 for _, size in sizes),
        biggest_clusters=heapq.nlargest(top, sizes, key=lambda cs: (cs[1], -cs[0])),
        chrome_lines=sum(n for _, n in chrome),
        chrome_by_source=heapq.nlargest(top, chrome, key=lambda sn: (sn[1], sn[0])),
        redis_bytes=used,
    )


def memory_store_stats(store: MemoryStore, top: int = 10) -> NamespaceStats:
    sizes = store.all_cluster_sizes()
    return NamespaceStats(
        articles=sum(sizes.values()),
        clusters=len(sizes),
        biggest_clusters=heapq.nlargest(top, sizes.items(), key=lambda cs: (cs[1], -cs[0])),
    )
