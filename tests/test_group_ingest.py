"""Single articles of concurrent calls (IngestArticle, streams) are indexed
in groups (Deduplicator.ingest_one): one store call for the articles that
arrive while the group before them is indexed, each caller getting its own
article's outcome, a failure the failing article's alone, and a caller that
gives up not stopping its group. On a real Redis, through the server's own
pipeline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
import redis.asyncio as aioredis
from storydedup.clustering.policy import MatchPolicy
from storydedup.dedup import Deduplicator, PreparedArticle
from storydedup.fingerprints.fingerprint import Fingerprinter
from storydedup.store.base import IngestItem, IngestOutcome, StoreUnavailableError
from storydedup.store.redis_store import RedisStore

from tests.support import articles, syndication
from tests.support.redis_server import RedisServer


class CountingStore(RedisStore):
    """The Redis store, with the batches it was given recorded, and
    articles of IDs in `failing` refused as if Redis had gone away."""

    def __init__(self, url: str, namespace: str) -> None:
        super().__init__(aioredis.Redis.from_url(url), namespace, MatchPolicy())
        self.calls: list[list[str]] = []
        self.failing: set[str] = set()
        self.called = asyncio.Event()

    async def ingest(self, items: Sequence[IngestItem]) -> list[IngestOutcome]:
        ids = [item.article_id for item in items]
        self.calls.append(ids)
        self.called.set()
        if self.failing.intersection(ids):
            raise StoreUnavailableError("Redis is unavailable")
        return await super().ingest(items)


@pytest.fixture
async def dedup(
    redis_server: RedisServer, namespace: str, fingerprinter: Fingerprinter
) -> AsyncIterator[tuple[Deduplicator, CountingStore]]:
    store = CountingStore(redis_server.url, namespace)
    await store.open(fingerprinter.settings.store_settings())
    dedup = Deduplicator(store, fingerprinter)
    yield dedup, store
    dedup.close()
    await store.close()


def copies(dedup: Deduplicator, count: int, seed: int) -> list[PreparedArticle]:
    paragraphs = articles.story(seed, paragraphs=8)
    return [
        dedup.prepare(syndication.copy_article(f"s{seed}-{i}", paragraphs, i, seed), "article")
        for i in range(count)
    ]


async def test_concurrent_single_articles_share_a_store_call(
    dedup: tuple[Deduplicator, CountingStore],
) -> None:
    deduplicator, store = dedup
    prepared = copies(deduplicator, 6, 1) + copies(deduplicator, 6, 2)
    ids = [p.item.article_id for p in prepared]
    first = asyncio.create_task(deduplicator.ingest_one(prepared[0]))
    await store.called.wait()
    # The eleven that come while the first is being indexed go together,
    # in the order they came.
    rest = await asyncio.gather(*(deduplicator.ingest_one(p) for p in prepared[1:]))
    outcomes = [await first, *rest]
    assert store.calls == [ids[:1], ids[1:]]
    assert [o.article_id for o in outcomes] == [p.item.article_id for p in prepared]
    assert len({o.cluster for o in outcomes[:6]}) == 1
    assert len({o.cluster for o in outcomes[6:]}) == 1
    assert outcomes[0].cluster != outcomes[6].cluster
    assert [o.duplicate for o in outcomes] == [False] + [True] * 5 + [False] + [True] * 5
    # Alone, an article is indexed at once.
    [late] = copies(deduplicator, 1, 3)
    assert (await deduplicator.ingest_one(late)).article_id == late.item.article_id
    assert store.calls[-1] == [late.item.article_id]


async def test_a_failing_article_fails_alone(
    dedup: tuple[Deduplicator, CountingStore],
) -> None:
    deduplicator, store = dedup
    prepared = copies(deduplicator, 5, 4)
    store.failing = {prepared[3].item.article_id}
    results = await asyncio.gather(
        *(deduplicator.ingest_one(p) for p in prepared), return_exceptions=True
    )
    assert isinstance(results[3], StoreUnavailableError)
    ok = [r for i, r in enumerate(results) if i != 3]
    assert all(isinstance(r, IngestOutcome) for r in ok)
    assert [r.article_id for r in ok if isinstance(r, IngestOutcome)] == [
        p.item.article_id for i, p in enumerate(prepared) if i != 3
    ]
    # The group failed, then each article was tried alone.
    ids = [p.item.article_id for p in prepared]
    assert store.calls == [ids, *([i] for i in ids)]
    assert await store.article(prepared[3].item.article_id) is None


async def test_a_caller_that_gives_up_does_not_stop_its_group(
    dedup: tuple[Deduplicator, CountingStore],
) -> None:
    deduplicator, store = dedup
    prepared = copies(deduplicator, 4, 5)
    calls = [asyncio.create_task(deduplicator.ingest_one(p)) for p in prepared]
    await asyncio.sleep(0)  # every call is waiting, the first being indexed
    calls[2].cancel()
    done = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    assert all(isinstance(d, IngestOutcome) for i, d in enumerate(done) if i != 2)
    for p in prepared:
        record = await store.article(p.item.article_id)
        assert record is not None
    # Every article was indexed in the groups it was given to.
    assert sum(len(call) for call in store.calls) == len(prepared)
