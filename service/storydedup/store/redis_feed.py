"""The story feed on Redis, shared by the single-Redis and the Redis Cluster
store: the event stream (read through lua/events.lua, waited on with XREAD
BLOCK) and the kept orders of cluster listings (store/listing.py).

An event is a stream entry with the fields k (kind), c (cluster), a (the
article ID), s (size after) and, for merged_into, i (the cluster merged
into); its entry ID is its event ID."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from storydedup.store.base import ClusterEvent, EventsTrimmedError, parse_event_id
from storydedup.store.scripts import LuaScript, call

EVENTS_SCRIPT = LuaScript.read("events.lua")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def event_of(entry: Sequence[Any]) -> ClusterEvent:
    event_id, flat = entry
    fields = {_text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}
    return ClusterEvent(
        event_id=_text(event_id),
        kind=_text(fields["k"]),
        cluster=int(fields["c"]),
        article_id=_text(fields["a"]),
        size=int(fields["s"]),
        into=int(fields.get("i", 0)),
    )


async def read_events(
    client: Redis | RedisCluster, stream: bytes | str, after: str, count: int
) -> list[ClusterEvent]:
    if after != "0":
        after = "{}-{}".format(*parse_event_id(after))
    reply: list[Any] = await call(
        client, EVENTS_SCRIPT.command([stream], after, count), [EVENTS_SCRIPT]
    )
    if _text(reply[0]) == "trimmed":
        raise EventsTrimmedError(f"events after {after} were trimmed")
    return [event_of(entry) for entry in reply[1]]


async def last_event_id(client: Redis | RedisCluster, stream: bytes | str) -> str:
    latest: Any = await client.xrevrange(stream, count=1)
    return _text(latest[0][0]) if latest else "0"


async def wait_events(
    client: Redis | RedisCluster, stream: bytes | str, after: str, timeout_s: float
) -> None:
    """XREAD BLOCK, only to wake up: the events are then read through
    read_events, which notices a trim that XREAD would pass over."""
    start = "0-0" if after == "0" else "{}-{}".format(*parse_event_id(after))
    await client.xread({stream: start}, count=1, block=max(1, int(timeout_s * 1000)))


async def read_cluster_window(
    client: Redis | RedisCluster,
    key: bytes | str,
    low_ms: float,
    high_ms: float,
    offset: int,
    count: int,
) -> list[tuple[float, int]]:
    """A page of a cluster index (sorted set of big-endian cluster numbers,
    scored by publication time), newest first, within [low_ms, high_ms]."""
    entries: list[Any] = await client.zrange(
        key,
        repr(high_ms),
        repr(low_ms),
        desc=True,
        byscore=True,
        offset=offset,
        num=count,
        withscores=True,
    )
    return [(float(score), int.from_bytes(m, "big")) for m, score in entries]


async def save_listing(
    client: Redis | RedisCluster, prefix: bytes | str, clusters: Sequence[int], ttl_ms: float
) -> str:
    name = secrets.token_hex(8)
    key = _key(prefix, name)
    packed = b"".join(c.to_bytes(6, "big") for c in clusters)
    await client.set(key, packed, px=int(ttl_ms))
    return name


async def read_listing(
    client: Redis | RedisCluster, prefix: bytes | str, name: str, offset: int, count: int
) -> list[int] | None:
    if not all(ch in "0123456789abcdef" for ch in name) or len(name) != 16:
        return None
    key = _key(prefix, name)
    if not await client.exists(key):
        return None
    packed: Any = await client.getrange(key, offset * 6, (offset + count) * 6 - 1)
    return [int.from_bytes(packed[i : i + 6], "big") for i in range(0, len(packed), 6)]


def _key(prefix: bytes | str, name: str) -> bytes:
    base = prefix.encode() if isinstance(prefix, str) else prefix
    return base + name.encode()
