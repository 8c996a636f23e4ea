"""The learned-chrome port, run against the in-process adapter and a real
redis-server: same answers, bounded, forgetting with age."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from storydedup.dedup import Deduplicator, chrome_state_for
from storydedup.fingerprints.fingerprint import Fingerprinter
from storydedup.store.base import IndexStore
from storydedup.store.chrome_state import (
    ChromeSettings,
    ChromeState,
    MemoryChromeState,
    RedisChromeState,
    SeenLines,
    chrome_key,
)
from storydedup.store.redis_store import key_prefix

from tests.support.redis_server import RedisServer

SETTINGS = ChromeSettings(min_clusters=3, max_lines=16, forget_after=20, ttl_ms=60_000)
MENU = [101, 102, 103]


@pytest.fixture(params=["memory", "redis"])
async def chrome(
    request: pytest.FixtureRequest, redis_server: RedisServer, namespace: str
) -> AsyncIterator[ChromeState]:
    if request.param == "memory":
        yield MemoryChromeState(SETTINGS)
        return
    client = aioredis.Redis.from_url(redis_server.url)
    yield RedisChromeState(client, key_prefix(namespace), SETTINGS)
    await client.aclose()


def seen(source: str, keys: list[int], cluster: int) -> SeenLines:
    return SeenLines(source, keys, cluster)


async def test_a_line_is_chrome_once_seen_in_three_clusters(chrome: ChromeState) -> None:
    await chrome.learn([seen("a.com", [*MENU, 1], 1), seen("a.com", [*MENU, 2], 2)])
    assert await chrome.known(["a.com"]) == {"a.com": frozenset()}
    await chrome.learn([seen("a.com", [*MENU, 3], 3)])
    assert await chrome.known(["a.com", "b.com"]) == {
        "a.com": frozenset(MENU),
        "b.com": frozenset(),
    }


async def test_one_story_seen_again_and_again_is_not_chrome(chrome: ChromeState) -> None:
    # Updates of one story repeat its paragraphs, all in one cluster.
    await chrome.learn([seen("a.com", [*MENU, 7], 5) for _ in range(6)])
    assert await chrome.known(["a.com"]) == {"a.com": frozenset()}


async def test_sources_are_apart(chrome: ChromeState) -> None:
    await chrome.learn([seen("a.com", MENU, cluster) for cluster in (1, 2, 3)])
    await chrome.learn([seen("b.com", MENU, cluster) for cluster in (1, 2)])
    assert await chrome.known(["a.com", "b.com"]) == {
        "a.com": frozenset(MENU),
        "b.com": frozenset(),
    }


async def test_chrome_is_forgotten_when_its_source_stops_printing_it(chrome: ChromeState) -> None:
    await chrome.learn([seen("a.com", MENU, cluster) for cluster in (1, 2, 3)])
    # forget_after = 20 articles of the source without the menu.
    await chrome.learn([seen("a.com", [1000], 10 + n) for n in range(20)])
    assert await chrome.known(["a.com"]) == {"a.com": frozenset([*MENU, 1000])}
    await chrome.learn([seen("a.com", [2000], 99)])
    assert await chrome.known(["a.com"]) == {"a.com": frozenset([1000])}


async def test_lines_per_source_are_bounded(chrome: ChromeState) -> None:
    await chrome.learn([seen("a.com", MENU, cluster) for cluster in (1, 2, 3)])
    # Many one-off lines; the menu stays recent.
    for n in range(40):
        await chrome.learn([seen("a.com", [*MENU, 5000 + n], 10 + n)])
    assert await chrome.known(["a.com"]) == {"a.com": frozenset(MENU)}
    if isinstance(chrome, RedisChromeState):
        # Trimmed in batches: at most a quarter over the bound, plus the counter.
        client = chrome._client
        lines = await client.hlen(chrome_key(chrome._prefix, "a.com")) - 1
        assert lines <= SETTINGS.max_lines + SETTINGS.max_lines // 4


async def test_redis_state_is_one_hash_tagged_key_per_source_with_a_ttl(
    redis_server: RedisServer, namespace: str
) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        state = RedisChromeState(client, key_prefix(namespace), SETTINGS)
        await state.learn([seen("a.com", MENU, 1), seen("b{x}.com", MENU, 1)])
        prefix = key_prefix(namespace)
        untagged = prefix.replace("{", "").replace("}", "")
        found = await client.keys(untagged + "chrome:*")
        keys = sorted(k.decode() if isinstance(k, bytes) else k for k in found)
        assert keys == sorted([chrome_key(prefix, "a.com"), chrome_key(prefix, "b{x}.com")])
        for key in keys:
            # The first braces of the key hold the source's tag, nothing else.
            tag = key[key.index("{") + 1 : key.index("}")]
            assert len(tag) == 16 and all(c in "0123456789abcdef" for c in tag)
            assert 0 < await client.pttl(key) <= SETTINGS.ttl_ms
    finally:
        await client.aclose()


async def test_replicas_learn_together_through_redis(
    redis_server: RedisServer, namespace: str
) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        one = RedisChromeState(client, key_prefix(namespace), SETTINGS)
        two = RedisChromeState(client, key_prefix(namespace), SETTINGS)
        await one.learn([seen("a.com", MENU, 1), seen("a.com", MENU, 2)])
        await two.learn([seen("a.com", MENU, 3)])
        assert await one.known(["a.com"]) == {"a.com": frozenset(MENU)}
    finally:
        await client.aclose()


async def test_the_deduplicator_keeps_chrome_beside_its_index(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    chrome = chrome_state_for(store)
    expected = MemoryChromeState if store.persistent is False else RedisChromeState
    assert isinstance(chrome, expected)
    assert isinstance(Deduplicator(store, fingerprinter).chrome, expected)


async def test_both_adapters_give_the_same_answers(
    redis_server: RedisServer, namespace: str
) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        memory = MemoryChromeState(SETTINGS)
        redis_state = RedisChromeState(client, key_prefix(namespace), SETTINGS)
        batches = [
            [seen(f"s{(i + j) % 3}.com", [*MENU, i % 7, 100 + j], (i * j) % 5) for j in range(4)]
            for i in range(30)
        ]
        for batch in batches:
            await asyncio.gather(memory.learn(batch), redis_state.learn(batch))
            sources = {s.source for s in batch}
            assert await memory.known(sources) == await redis_state.known(sources)
    finally:
        await client.aclose()
