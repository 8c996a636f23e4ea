"""A full Redis (at maxmemory under noeviction, as docker-compose.yml runs
it) is an operational state: ingest answers RESOURCE_EXHAUSTED saying what
to do, lookups go on, a refused batch writes nothing, one warning line says
so, and no status names a Python class."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
import redis
from prometheus_client import REGISTRY
from storydedup.api.server import StoryDedupServer
from storydedup.clustering.policy import MatchPolicy
from storydedup.store.redis_store import RedisStore
from storydedup_client import Article, AsyncStoryDedupClient, StoryDedupError

from tests.conftest import running_server
from tests.support import articles
from tests.support.redis_server import RedisServer

# Room for the server's scripts and a few articles, little more.
MAXMEMORY = "8mb"


@pytest.fixture(scope="module")
def small_redis() -> Iterator[RedisServer]:
    server = RedisServer(
        extra=("--maxmemory", MAXMEMORY, "--maxmemory-policy", "noeviction")
    ).start()
    yield server
    server.cleanup()


def fill(url: str) -> int:
    """Writes filler keys until Redis refuses one; returns how many went in.
    Then lowers maxmemory a little under what is used, so that a connection's
    buffers being freed does not make room for one more article."""
    client = redis.Redis.from_url(url)
    try:
        for n in range(100_000):
            try:
                client.set(f"filler:{n}", b"x" * 4096)
            except redis.exceptions.OutOfMemoryError:
                used = int(client.info("memory")["used_memory"])
                client.config_set("maxmemory", used - 256 * 1024)
                return n
        raise AssertionError("Redis never reached maxmemory")
    finally:
        client.close()


def drain_filler(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.config_set("maxmemory", MAXMEMORY)
        keys = list(client.scan_iter(match="filler:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
async def full_server(small_redis: RedisServer, namespace: str) -> AsyncIterator[StoryDedupServer]:
    async with running_server(
        {"port": "0", "namespace": namespace, "redis_url": small_redis.url}
    ) as running:
        yield running
    drain_filler(small_redis.url)


def refused_count() -> float:
    """This process's count of articles refused for a full store."""
    found = REGISTRY.get_sample_value("storydedup_articles_refused_total", {"reason": "store_full"})
    return found or 0.0


def story(seed: int, article_id: str) -> Article:
    return Article(id=article_id, text=articles.text(articles.story(seed)), source="wire.example")


async def test_full_redis_refuses_ingest_and_serves_reads(
    full_server: StoryDedupServer,
    small_redis: RedisServer,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with AsyncStoryDedupClient(f"127.0.0.1:{full_server.port}", timeout=30) as client:
        first = await client.ingest_article(story(1, "before-1"))
        await client.ingest_article(story(2, "before-2"))
        assert fill(small_redis.url) > 0

        caplog.set_level(logging.WARNING, logger="storydedup")
        refused_before = refused_count()
        refusals = []
        for n in range(3):
            with pytest.raises(StoryDedupError) as refused:
                await client.ingest_article(story(100 + n, f"after-{n}"))
            refusals.append(refused.value)
        with pytest.raises(StoryDedupError) as batch_refused:
            await client.ingest_articles([story(200 + n, f"batch-{n}") for n in range(4)])
        refusals.append(batch_refused.value)
        for error in refusals:
            assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "maxmemory" in error.message and "retention" in error.message
            assert "<class" not in error.message and "Error" not in error.message

        # Counted: 3 single articles and a batch of 4.
        assert refused_count() - refused_before == 7
        # One warning line for the four refusals, not one each.
        warnings = [r for r in caplog.records if "ingest refused" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]

        # Reads keep working.
        cluster = await client.get_cluster(article_id="before-1")
        assert cluster.cluster_id == first.cluster_id
        assert (await client.get_article("before-2")).article_id == "before-2"
        similar = await client.find_similar(story(1, ""))
        assert similar.cluster_id == first.cluster_id

        # Nothing of the refused articles was written, and the index is sound.
        for missing in ("after-0", "batch-0", "batch-3"):
            with pytest.raises(StoryDedupError) as not_found:
                await client.get_article(missing)
            assert not_found.value.code == grpc.StatusCode.NOT_FOUND
        store = RedisStore.from_url(small_redis.url, namespace, MatchPolicy())
        try:
            assert await store.check() == []
        finally:
            await store.close()

        # Room again: ingest works again, without a restart.
        drain_filler(small_redis.url)
        again = await client.ingest_article(story(100, "after-0"))
        assert not again.duplicate


async def test_an_unexpected_failure_is_internal_without_a_class_name(
    full_server: StoryDedupServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise KeyError("secret-looking detail")

    monkeypatch.setattr(full_server.store, "similar", broken)
    async with AsyncStoryDedupClient(f"127.0.0.1:{full_server.port}", timeout=30) as client:
        with pytest.raises(StoryDedupError) as failed:
            await client.find_similar(story(1, ""))
    assert failed.value.code == grpc.StatusCode.INTERNAL
    assert "<class" not in failed.value.message
    assert "KeyError" not in failed.value.message
    assert "secret-looking" not in failed.value.message
