"""The story feed on every store: the event log (WatchClusters) and the
cluster listing (ListClusters), against the in-process store, a real
redis-server and a real Redis Cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from storydedup.clustering.policy import MatchPolicy
from storydedup.fingerprints.fingerprint import Fingerprinter, source_key
from storydedup.store.base import ClusterEvent, EventsTrimmedError, IndexStore
from storydedup.store.cluster_store import RedisClusterStore
from storydedup.store.listing import ClusterQuery, list_clusters
from storydedup.store.memory import MemoryStore
from storydedup.store.redis_store import RedisStore

from tests.support import articles
from tests.test_store_contract import HOUR_MS, ingest, item

T0 = 1_714_560_000_000.0  # 2024-05-01T10:40:00Z
STORY_A = articles.story(1, paragraphs=10)
STORY_B = articles.story(2, paragraphs=10)


def make_store(request: pytest.FixtureRequest, kind: str, namespace: str, **options: Any) -> Any:
    policy = MatchPolicy()
    if kind == "memory":
        return MemoryStore(policy, **options)
    if kind == "redis":
        return RedisStore.from_url(
            request.getfixturevalue("redis_server").url, namespace, policy, **options
        )
    url = request.getfixturevalue("redis_cluster").url
    return RedisClusterStore.from_url(url, namespace, policy, **options)


async def all_events(store: IndexStore, after: str = "0") -> list[ClusterEvent]:
    events: list[ClusterEvent] = []
    while batch := await store.events(after, 3):
        events += batch
        after = batch[-1].event_id
    return events


async def test_every_change_is_one_event_in_commit_order(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    fp = fingerprinter
    a1 = await ingest(store, fp, "a1", articles.text(STORY_A), T0)
    await ingest(
        store, fp, "a2", articles.text(articles.edited(STORY_A, seed=9, share=0.03)), T0 + 1
    )
    b1 = await ingest(store, fp, "b1", articles.text(STORY_B), T0 + 2)
    await ingest(store, fp, "a1", articles.text(STORY_A), T0)  # unchanged: no event
    await store.delete("a2")
    await store.delete("b1")
    events = await all_events(store)
    assert [(e.kind, e.cluster, e.article_id, e.size) for e in events] == [
        ("created", a1.cluster, "a1", 1),
        ("grew", a1.cluster, "a2", 2),
        ("created", b1.cluster, "b1", 1),
        ("removed", a1.cluster, "a2", 1),
        ("removed", b1.cluster, "b1", 0),
    ]
    ids = [e.event_id for e in events]
    assert len(set(ids)) == len(ids)
    assert await store.last_event_id() == ids[-1]
    assert await store.events(ids[-1], 10) == []


async def test_merges_and_expiry_are_events(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    long_story = articles.story(7, paragraphs=20)
    left = await ingest(store, fingerprinter, "left", articles.text(long_story[:13]))
    right = await ingest(store, fingerprinter, "right", articles.text(long_story[7:]))
    middle = await ingest(store, fingerprinter, "middle", articles.text(long_story))
    events = await all_events(store)
    into = middle.cluster
    merged = ({left.cluster, right.cluster} - {into}).pop()
    assert [(e.kind, e.cluster, e.size, e.into) for e in events[2:]] == [
        ("merged_into", merged, 3, into),
        ("grew", into, 3, 0),
    ]
    assert await store.expire(1e15, budget=10) == 3
    expired = (await all_events(store))[4:]
    assert sorted(e.article_id for e in expired) == ["left", "middle", "right"]
    assert {e.kind for e in expired} == {"expired"} and expired[-1].size == 0


async def test_a_reader_resuming_from_its_last_event_sees_every_change_once(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    """A watcher reads a few events, disconnects, and resumes from the last
    event it saw while ingest goes on."""
    seen: list[ClusterEvent] = []
    after = await store.last_event_id()

    async def writer() -> None:
        for i in range(12):
            story = articles.story(100 + i % 4, paragraphs=6)
            await ingest(store, fingerprinter, f"w{i}", articles.text(story), T0 + i)
            await asyncio.sleep(0)

    writing = asyncio.create_task(writer())
    while not writing.done() or await store.events(after, 1):
        batch = await store.events(after, 2)  # a reconnect after every two
        seen += batch
        if batch:
            after = batch[-1].event_id
        else:
            await store.wait_events(after, 0.05)
    await writing
    assert [e.event_id for e in seen] == [e.event_id for e in await all_events(store)]
    assert [e.article_id for e in seen] == [f"w{i}" for i in range(12)]
    assert [e.kind for e in seen] == ["created"] * 4 + ["grew"] * 8


@pytest.mark.parametrize("kind", ["memory", "redis", "cluster"])
async def test_a_trimmed_resume_point_is_refused(
    request: pytest.FixtureRequest, kind: str, namespace: str, fingerprinter: Fingerprinter
) -> None:
    store = make_store(request, kind, namespace, events_max_len=10)
    await store.open(fingerprinter.settings.store_settings())
    try:
        for i in range(130):
            # A lone founder re-ingested with new content: two events each.
            await ingest(store, fingerprinter, "x", f"version {i} of a story " * 20)
        first_kept = (await store.events("0", 1))[0].event_id
        # Redis trims whole stream nodes (MAXLEN ~): about ten are kept.
        assert 10 <= len(await all_events(store)) <= 210
        with pytest.raises(EventsTrimmedError):
            await store.events("1-0", 5)
        assert await store.events(await store.last_event_id(), 5) == []
        assert (await store.events("0", 1))[0].event_id == first_kept
    finally:
        await store.close()


async def test_events_can_be_switched_off(
    request: pytest.FixtureRequest, namespace: str, fingerprinter: Fingerprinter
) -> None:
    store = make_store(request, "redis", namespace, events_max_len=0)
    await store.open(fingerprinter.settings.store_settings())
    try:
        await ingest(store, fingerprinter, "a1", articles.text(STORY_A), T0)
        assert await store.events("0", 10) == []
        assert await store.check() == []
    finally:
        await store.close()


async def test_redis_events_survive_a_restart(
    request: pytest.FixtureRequest, fingerprinter: Fingerprinter, namespace: str
) -> None:
    from tests.support.redis_server import RedisServer

    server = RedisServer(appendonly=True).start()
    try:
        store = RedisStore.from_url(server.url, namespace, MatchPolicy())
        await store.open(fingerprinter.settings.store_settings())
        await ingest(store, fingerprinter, "a1", articles.text(STORY_A), T0)
        before = await all_events(store)
        await store.close()
        server.restart()
        store = RedisStore.from_url(server.url, namespace, MatchPolicy())
        await store.open(fingerprinter.settings.store_settings())
        await ingest(store, fingerprinter, "b1", articles.text(STORY_B), T0)
        after = await all_events(store, before[-1].event_id)
        assert await all_events(store) == before + after
        assert [e.article_id for e in after] == ["b1"]
        await store.close()
    finally:
        server.cleanup()


def query(**fields: Any) -> ClusterQuery:
    values: dict[str, Any] = dict(
        since_ms=T0,
        until_ms=T0 + HOUR_MS,
        by_first=True,
        by_size=False,
        min_size=1,
        source_key=None,
        page_size=3,
    )
    values.update(fields)
    return ClusterQuery(**values)


async def listing(store: IndexStore, q: ClusterQuery, between: Any = None) -> list[int]:
    """Every page of a listing; `between(page_number)` runs between pages."""
    listed: list[int] = []
    token, pages = "", 0
    while True:
        page = await list_clusters(store, q, token, T0 + HOUR_MS)
        listed += [s.cluster for s in page.clusters]
        token, pages = page.next_token, pages + 1
        if not token:
            return listed
        if between is not None:
            await between(pages)


@pytest.mark.parametrize(
    "order", [{"by_first": True}, {"by_first": False}, {"by_size": True}], ids=str
)
async def test_listing_pages_list_every_story_once_under_ingest(
    store: IndexStore, fingerprinter: Fingerprinter, order: dict[str, bool]
) -> None:
    stories = [articles.story(200 + i, paragraphs=6) for i in range(10)]
    founders = {}
    for i, story in enumerate(stories):
        outcome = await ingest(store, fingerprinter, f"s{i}", articles.text(story), T0 + i * 60_000)
        founders[outcome.cluster] = i

    async def between(page: int) -> None:
        # Copies of listed and unlisted stories, published inside the window
        # and after it, and new stories, while the listing goes on.
        for i in (page, 9 - page):
            copy = articles.text(stories[i][:4])
            await ingest(store, fingerprinter, f"c{page}-{i}", copy, T0 + 30 * 60_000 + page)
            await ingest(store, fingerprinter, f"d{page}-{i}", copy + " ", T0 + 2 * HOUR_MS)
        new = articles.text(articles.story(300 + page, paragraphs=6))
        await ingest(store, fingerprinter, f"n{page}", new, T0 + 5 * 60_000 + page)

    listed = await listing(store, query(**order), between)
    assert len(listed) == len(set(listed))
    assert set(founders) <= set(listed)
    assert await store.check() == []


async def test_listing_orders_and_filters(store: IndexStore, fingerprinter: Fingerprinter) -> None:
    fp = fingerprinter
    small = await ingest(store, fp, "small", articles.text(STORY_B), T0 + 10_000)
    big = await ingest(store, fp, "big", articles.text(STORY_A), T0)
    for i, source in enumerate(("one.example", "two.example", "two.example")):
        [outcome] = await store.ingest(
            [item(fp, f"big{i}", articles.text(STORY_A[: 5 + i]), T0 + 20_000 + i)]
        )
        assert outcome.cluster == big.cluster
        del source
    assert await listing(store, query(by_size=True)) == [big.cluster, small.cluster]
    assert await listing(store, query()) == [small.cluster, big.cluster]
    assert await listing(store, query(by_first=False)) == [big.cluster, small.cluster]
    assert await listing(store, query(min_size=2)) == [big.cluster]
    assert await listing(store, query(since_ms=T0 + 5_000)) == [small.cluster]
    assert await listing(store, query(source_key=source_key("nowhere"))) == []
    [summary] = (await list_clusters(store, query(min_size=2), "", T0)).clusters
    assert summary.size == 4 and summary.canonical.article_id == "big"
    assert (summary.first_ms, summary.last_ms) == (T0, T0 + 20_002)


async def test_a_cursor_pages_through_stories_published_at_one_time(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    """Ties of the time a cursor listing pages by are ordered by cluster ID:
    one a page, every story once."""
    clusters = []
    for i in range(6):
        story = articles.story(400 + i, paragraphs=6)
        clusters.append(
            (await ingest(store, fingerprinter, f"t{i}", articles.text(story), T0)).cluster
        )
    assert await listing(store, query(page_size=1)) == sorted(clusters, reverse=True)
