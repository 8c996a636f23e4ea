"""Learned chrome in Redis, shared by every server replica of a namespace
(cleaning/chrome_state.py has the port, lua/chrome.lua the rules).

One hash and one set per source, in a hash slot of their own on a Redis
Cluster, or in the namespace's slot on one Redis. A lookup returns the
source's chrome lines (tens, not the page's hundreds of lines), and nothing
when its chrome set has not changed and fewer than refresh_every of its
articles went by since the caller's last lookup; a learn call that only
added chrome lines to the caller's current view returns them, so the
learner does not read the whole set again on its next lookup. The state is
bounded per source (max_lines and a quarter, oldest first), lines are
forgotten when their source has not printed them for forget_after articles,
and a source's keys expire when it has published nothing for ttl_ms (by
default the retention window).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import xxhash
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from storydedup.cleaning.chrome import ChromeModel
from storydedup.cleaning.chrome_state import ChromeCache, ChromeLines
from storydedup.store.cluster_layout import hash_tag
from storydedup.store.scripts import LuaScript, pipelined
from storydedup.store.unavailable import CLUSTER_UNAVAILABLE, unavailable_on

_SCRIPT = LuaScript.read("chrome.lua")


# Key names: "y" the lines hash, "z" the chrome set. (The layout before,
# "h"/"r"/"x" with a recency zset, is left to expire with its TTL.)


def source_ref(source: str) -> bytes:
    return xxhash.xxh64_digest(source.encode("utf-8", "replace"))


def single_redis_keys(namespace: str) -> Callable[[str], list[bytes]]:
    """Keys in the namespace's hash slot, as the single-Redis layout keeps them."""
    prefix = f"sd:{{{namespace}}}:".encode()

    def keys(source: str) -> list[bytes]:
        ref = source_ref(source)
        return [prefix + b"y:" + ref, prefix + b"z:" + ref]

    return keys


def cluster_keys(namespace: str) -> Callable[[str], list[bytes]]:
    """Keys in a hash slot of the source's own, as the cluster layout keeps them."""
    prefix = f"sd:{namespace}:".encode()

    def keys(source: str) -> list[bytes]:
        ref = source_ref(source)
        tag = hash_tag(ref[:2]) + ref[2:]
        return [prefix + b"y" + tag, prefix + b"z" + tag]

    return keys


class RedisChromeState:
    def __init__(
        self,
        client: Redis | RedisCluster,
        keys: Callable[[str], list[bytes]],
        ttl_ms: float,
        model: ChromeModel | None = None,
    ) -> None:
        """`model`: the rules, and this process's own record of the lines it
        learnt from, which decides what the shared state is told
        (ChromeModel.learn_shared)."""
        self._local = model if model is not None else ChromeModel()
        self._client = client
        self._keys = keys
        self._ttl_ms = int(ttl_ms)
        self._cache = ChromeCache(self._local.max_sources)

    @property
    def lines(self) -> ChromeLines:
        return self._cache

    async def _pipeline(self, calls: Sequence[tuple[list[bytes], list[Any]]]) -> list[Any]:
        with unavailable_on(CLUSTER_UNAVAILABLE, "Redis"):
            return await pipelined(
                self._client, [_SCRIPT.command(keys, *args) for keys, args in calls], [_SCRIPT]
            )

    async def lookup(self, queries: Sequence[tuple[str, Sequence[int]]]) -> list[set[int]]:
        sources = sorted({source for source, _ in queries if source})
        replies = await self._pipeline(
            [
                (
                    self._keys(source),
                    [
                        "lookup",
                        self._local.forget_after,
                        self._cache.version(source),
                        self._local.refresh_every,
                    ],
                )
                for source in sources
            ]
        )
        for source, reply in zip(sources, replies, strict=True):
            if len(reply) > 1 or int(reply[0]) != self._cache.version(source):
                chrome = frozenset(int.from_bytes(k, "big") for k in reply[1:])
                self._cache.replace(source, int(reply[0]), chrome)
        return [self._cache.chrome_keys(source, keys) for source, keys in queries]

    async def learn(self, seen: Sequence[tuple[str, Sequence[int], int]]) -> None:
        # Per source: its articles in the batch and, per line told, the
        # clusters this process has seen it in (a later article's list holds
        # an earlier one's).
        articles: Counter[str] = Counter()
        told: dict[str, dict[int, list[int]]] = {}
        for source, line_keys, cluster in seen:
            if source:
                articles[source] += 1
                told.setdefault(source, {}).update(
                    self._local.learn_shared(source, line_keys, cluster)
                )
                # A turn for other calls between articles: a batch's hundreds
                # of lines each are tens of milliseconds of work.
                await asyncio.sleep(0)
        # The view each call is sent with: the additions a reply brings apply to it alone.
        sent = {source: self._cache.version(source) for source in told}
        replies = await self._pipeline(
            [
                (
                    self._keys(source),
                    [
                        "learn",
                        self._local.min_clusters,
                        self._local.max_lines,
                        self._ttl_ms,
                        articles[source],
                        # One argument, not one per line: packing a command costs redis-py
                        # (and parsing it costs Redis) per argument.
                        b"".join(
                            key.to_bytes(8, "big")
                            + len(clusters).to_bytes(1, "big")
                            + b"".join(c.to_bytes(6, "big") for c in clusters)
                            for key, clusters in lines.items()
                        ),
                        self._local.refresh_every,
                        sent[source],
                    ],
                )
                for source, lines in told.items()
            ]
        )
        # Where this call only added chrome to a view that was current, the
        # reply has the additions, and the next lookup finds the view current;
        # unless another call's reply replaced the view meanwhile.
        for (source, version), reply in zip(sent.items(), replies, strict=True):
            if len(reply) > 1 and self._cache.version(source) == version:
                added = frozenset(int.from_bytes(k, "big") for k in reply[2:])
                self._cache.replace(source, int(reply[1]), self._cache.known(source) | added)
