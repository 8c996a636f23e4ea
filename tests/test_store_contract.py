"""Every store behaviour, run against the in-process store and a real
redis-server (the `store` fixture is parametrised over both)."""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import replace
from typing import Any

import pytest
import xxhash
from storydedup.clustering.policy import MatchPolicy, compare
from storydedup.fingerprints.fingerprint import Fingerprinter
from storydedup.store.base import (
    BUCKET_MEMBERS,
    DeleteOutcome,
    IndexStore,
    IngestItem,
    IngestOutcome,
    Probe,
    StoreLayoutError,
)
from storydedup.store.cluster_store import RedisClusterStore
from storydedup.store.memory import MemoryStore
from storydedup.store.records import FLAG_COMPOSITE, FLAG_JOINED, HEADER_BYTES, ArticleRecord
from storydedup.store.redis_store import RedisStore, key_prefix
from storydedup.store.scripts import LuaScript

from tests.support import articles
from tests.support.redis_cluster import LocalRedisCluster
from tests.support.redis_server import RedisServer

HOUR_MS = 3_600_000.0


def item(fp: Fingerprinter, article_id: str, body: str, published_ms: float = 0.0) -> IngestItem:
    return IngestItem(
        article_id=article_id,
        digest=xxhash.xxh3_64_digest(body.encode()),
        probe=fp.probe(body),
        published_ms=published_ms,
        metadata=b"meta:" + article_id.encode(),
    )


async def ingest(
    store: IndexStore, fp: Fingerprinter, article_id: str, body: str, published_ms: float = 0.0
) -> IngestOutcome:
    [outcome] = await store.ingest([item(fp, article_id, body, published_ms)])
    return outcome


class Clock:
    """A settable clock for the stores' ingest times."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


STORY_A = articles.story(1, paragraphs=10)
STORY_B = articles.story(2, paragraphs=10)
STORY_C = articles.story(3, paragraphs=10)


async def test_new_article_starts_a_cluster(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    outcome = await ingest(store, fingerprinter, "a1", articles.text(STORY_A))
    assert not outcome.duplicate
    assert outcome.canonical_article_id == "a1"
    assert outcome.matches == ()
    view = await store.cluster(outcome.cluster)
    assert view is not None
    assert [m.article_id for m in view.members] == ["a1"]
    assert await store.check() == []


async def test_copy_joins_the_cluster_of_its_story(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    first = await ingest(store, fingerprinter, "a1", articles.text(STORY_A), 1000.0)
    copy = await ingest(
        store,
        fingerprinter,
        "a2",
        articles.text(articles.edited(STORY_A, seed=9, share=0.03)),
        2000.0,
    )
    other = await ingest(store, fingerprinter, "b1", articles.text(STORY_B), 3000.0)
    assert copy.duplicate
    assert copy.cluster == first.cluster
    assert copy.canonical_article_id == "a1"
    assert [m.article_id for m in copy.matches] == ["a1"]
    assert copy.matches[0].jaccard > 0.6
    assert not other.duplicate
    assert other.cluster != first.cluster
    view = await store.cluster_of_article("a2")
    assert view is not None
    assert [m.article_id for m in view.members] == ["a1", "a2"]
    assert await store.check() == []


async def test_truncated_copy_joins_by_containment(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    full = await ingest(store, fingerprinter, "full", articles.text(STORY_A))
    brief = await ingest(store, fingerprinter, "brief", articles.text(STORY_A[:3]))
    assert brief.duplicate and brief.cluster == full.cluster
    best = brief.matches[0]
    assert best.jaccard < 0.5  # not a resemblance match...
    assert best.containment > 0.8  # ...but the brief is contained in the story


async def test_roundup_of_leads_does_not_join_or_merge(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    clusters = set()
    for seed, story in ((1, STORY_A), (2, STORY_B), (3, STORY_C)):
        clusters.add((await ingest(store, fingerprinter, f"s{seed}", articles.text(story))).cluster)
    roundup = articles.text([STORY_A[0], STORY_B[0], STORY_C[0]])
    outcome = await ingest(store, fingerprinter, "roundup", roundup)
    assert not outcome.duplicate
    assert outcome.cluster not in clusters
    for seed in (1, 2, 3):
        view = await store.cluster_of_article(f"s{seed}")
        assert view is not None and [m.article_id for m in view.members] == [f"s{seed}"]


async def test_wire_update_with_a_new_top_joins_through_a_shorter_copy(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    # The full story ends in a long paragraph that a copy and the update both
    # left out; the update rewrote the top. It resembles the copy (0.45) more
    # than the full story (0.35, under min_jaccard); most of its sentences
    # are the full story's (passage evidence), so the full story, the
    # cluster's longest member, matches it too.
    full = [*STORY_A, articles.paragraph(random.Random(99), sentences=14)]
    rng = random.Random(103)
    update = [articles.paragraph(rng) for _ in range(5)] + STORY_A[3:]
    first = await ingest(store, fingerprinter, "full", articles.text(full), 1000.0)
    await ingest(store, fingerprinter, "copy", articles.text(STORY_A), 2000.0)
    outcome = await ingest(store, fingerprinter, "update", articles.text(update), 3000.0)
    assert outcome.duplicate and outcome.cluster == first.cluster
    by_id = {m.article_id: m for m in outcome.matches}
    assert 0.4 <= by_id["copy"].jaccard < 0.6
    assert by_id["full"].jaccard < 0.4


async def test_live_blog_holding_a_brief_whole_stays_out_of_its_story(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    # A live blog opens with a brief and goes on with other stories. It
    # holds the brief whole but not the longer version of the brief's
    # story, the cluster's longest member, which objects although it is
    # shorter than the live blog.
    version = await ingest(store, fingerprinter, "version", articles.text(STORY_A[:5]), 1000.0)
    brief = await ingest(store, fingerprinter, "brief", articles.text(STORY_A[:2]), 2000.0)
    assert brief.cluster == version.cluster
    blog = STORY_A[:2] + STORY_B + STORY_C
    outcome = await ingest(store, fingerprinter, "blog", articles.text(blog), 3000.0)
    assert [m.article_id for m in outcome.matches] == ["brief"]
    assert not outcome.duplicate and outcome.cluster != version.cluster
    # A later, longer version of the story holds the version too, and joins.
    full = await ingest(store, fingerprinter, "full", articles.text(STORY_A), 4000.0)
    assert full.duplicate and full.cluster == version.cluster


async def test_roundup_resembling_a_truncated_copy_needs_the_full_story(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    # A roundup made mostly of one story's lead resembles that story's
    # truncated copy (a match, the copy being longer) but neither is
    # contained in it nor starts like it; the full story, of which the lead
    # is a small part (3 of 14 paragraphs), does not confirm.
    long_story = articles.story(1, paragraphs=14)
    assert long_story[:10] == STORY_A
    full = await ingest(store, fingerprinter, "full", articles.text(long_story), 1000.0)
    await ingest(store, fingerprinter, "truncated", articles.text(STORY_A[:5]), 2000.0)
    roundup = [STORY_B[0], *STORY_A[:3]]
    outcome = await ingest(store, fingerprinter, "roundup", articles.text(roundup), 3000.0)
    by_id = {m.article_id: m for m in outcome.matches}
    assert 0.4 <= by_id["truncated"].jaccard < 0.6
    assert by_id["truncated"].containment < 0.8
    assert "full" not in by_id
    assert not outcome.duplicate and outcome.cluster != full.cluster
    # A truncated copy of the same length that starts like the story joins.
    brief = await ingest(store, fingerprinter, "brief", articles.text(STORY_A[:4]), 4000.0)
    assert brief.duplicate and brief.cluster == full.cluster


async def test_roundup_that_joined_the_one_story_it_found_leaves_when_another_arrives(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    # A roundup of two stories' leads arrives when only the first story is
    # in: its lead is half the roundup and a third of the story, passage
    # evidence for a version of it, so the roundup joins. The second story
    # shows what the roundup is: its lead is the roundup's other half. The
    # roundup leaves for a cluster of its own, marked composite, and later
    # copies of either story do not take it back.
    first, second = articles.story(51, paragraphs=6), articles.story(52, paragraphs=6)
    story = await ingest(store, fingerprinter, "first", articles.text(first), 1000.0)
    await ingest(store, fingerprinter, "first-brief", articles.text(first[:3]), 2000.0)
    roundup = articles.text([*first[:2], *second[:2]])
    joined = await ingest(store, fingerprinter, "roundup", roundup, 3000.0)
    assert joined.duplicate and joined.cluster == story.cluster
    after = (await store.events("0", 1000))[-1].event_id

    other = await ingest(store, fingerprinter, "second", articles.text(second), 4000.0)
    assert not other.duplicate and other.cluster != story.cluster
    left = await store.cluster_of_article("roundup")
    assert left is not None and [m.article_id for m in left.members] == ["roundup"]
    assert left.cluster not in (story.cluster, other.cluster)
    record = await store.article("roundup")
    assert record is not None and record.composite and record.cluster == left.cluster
    # The second story matches the roundup too (half of it is the story's
    # lead), and its answer names the cluster the roundup is in now.
    assert [(m.article_id, m.cluster) for m in other.matches] == [("roundup", left.cluster)]
    kept = await store.cluster_of_article("first")
    assert kept is not None and [m.article_id for m in kept.members] == ["first", "first-brief"]
    events = [
        (e.kind, e.cluster, e.article_id, e.size, e.into) for e in await store.events(after, 10)
    ]
    assert events == [
        ("split", story.cluster, "roundup", 2, left.cluster),
        ("created", left.cluster, "roundup", 1, 0),
        ("created", other.cluster, "second", 1, 0),
    ]

    for name, paragraphs in (("first-copy", first), ("second-copy", second[:4])):
        copy = await ingest(store, fingerprinter, name, articles.text(paragraphs), 5000.0)
        assert copy.duplicate and copy.cluster != left.cluster
    view = await store.cluster_of_article("roundup")
    assert view is not None and [m.article_id for m in view.members] == ["roundup"]


async def test_story_inside_one_version_of_a_live_blog_needs_the_longest_version(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    # A story that is an entry of one version of a live blog is estimated
    # mostly contained in that version (a match by the containment rule
    # alone, at a resemblance under min_jaccard), but the blog's longest
    # version, which dropped most of it, does not agree: it stays out.
    entries = articles.story(33, paragraphs=12)
    later = articles.story(34, paragraphs=7)
    first = await ingest(store, fingerprinter, "v1", articles.text(entries), 1000.0)
    second = await ingest(store, fingerprinter, "v2", articles.text(entries[3:] + later), 2000.0)
    assert second.cluster == first.cluster
    outcome = await ingest(store, fingerprinter, "entry", articles.text(entries[1:5]), 3000.0)
    by_id = {m.article_id: m for m in outcome.matches}
    policy = MatchPolicy()
    assert by_id["v1"].containment >= policy.min_containment
    assert policy.min_containment_jaccard <= by_id["v1"].jaccard < policy.min_jaccard
    assert "v2" not in by_id
    assert not outcome.duplicate and outcome.cluster != first.cluster


async def test_truncated_copy_joins_through_any_member_it_starts(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    # The truncated copy's best match is a version that opens with another
    # line (contained, resemblance under min_jaccard: not enough to skip the
    # confirmation), and the cluster's longest member is an update with a new
    # top that does not match it; but another member starts like it.
    rng = random.Random(43)
    story = articles.story(41, paragraphs=9)
    other = articles.story(42, paragraphs=6)
    note = "Readers are invited to share their thoughts on this story in the comments below today."
    update = [articles.paragraph(rng) for _ in range(3)] + story[3:] + other
    first = await ingest(store, fingerprinter, "version", articles.text([note, *story]), 1000.0)
    await ingest(store, fingerprinter, "copy", articles.text(story + other[:4]), 2000.0)
    await ingest(store, fingerprinter, "update", articles.text(update), 3000.0)
    outcome = await ingest(store, fingerprinter, "truncated", articles.text(story[:3]), 4000.0)
    assert [m.article_id for m in outcome.matches] == ["version", "copy"]
    assert outcome.matches[0].jaccard < MatchPolicy().min_jaccard
    assert outcome.duplicate and outcome.cluster == first.cluster


async def test_same_content_again_changes_nothing(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    await ingest(store, fingerprinter, "a1", articles.text(STORY_A))
    first = await ingest(store, fingerprinter, "a2", articles.text(STORY_A))
    again = await ingest(store, fingerprinter, "a2", articles.text(STORY_A))
    assert again.unchanged and not first.unchanged
    assert (again.cluster, again.duplicate, again.canonical_article_id) == (
        first.cluster,
        first.duplicate,
        first.canonical_article_id,
    )
    assert [m.article_id for m in again.matches] == ["a1"]
    view = await store.cluster(first.cluster)
    assert view is not None and len(view.members) == 2
    assert await store.check() == []


async def test_changed_content_is_reassigned(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    a = await ingest(store, fingerprinter, "a1", articles.text(STORY_A))
    b = await ingest(store, fingerprinter, "b1", articles.text(STORY_B))
    moving = await ingest(store, fingerprinter, "x", articles.text(STORY_A))
    assert moving.cluster == a.cluster
    moved = await ingest(store, fingerprinter, "x", articles.text(STORY_B))
    assert not moved.unchanged
    assert moved.cluster == b.cluster
    view_a = await store.cluster(a.cluster)
    assert view_a is not None and [m.article_id for m in view_a.members] == ["a1"]
    assert await store.check() == []


async def test_canonical_is_the_earliest_published(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    late = await ingest(store, fingerprinter, "late", articles.text(STORY_A), 5 * HOUR_MS)
    early = await ingest(store, fingerprinter, "early", articles.text(STORY_A), 1 * HOUR_MS)
    assert early.cluster == late.cluster
    assert early.canonical_article_id == "early"
    view = await store.cluster(late.cluster)
    assert view is not None
    assert [m.article_id for m in view.members] == ["early", "late"]
    assert view.members[0].published_ms == 1 * HOUR_MS


async def test_delete_keeps_the_other_members(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    first = await ingest(store, fingerprinter, "a1", articles.text(STORY_A), 1.0)
    await ingest(store, fingerprinter, "a2", articles.text(STORY_A), 2.0)
    await ingest(store, fingerprinter, "a3", articles.text(STORY_A), 3.0)
    deleted = await store.delete("a1")
    assert deleted is not None
    assert (deleted.cluster, deleted.remaining) == (first.cluster, 2)
    view = await store.cluster(first.cluster)
    assert view is not None and [m.article_id for m in view.members] == ["a2", "a3"]
    assert await store.article("a1") is None
    assert await store.delete("a1") is None
    # The cluster keeps its ID down to its last member, and is gone after it.
    assert (await store.delete("a2")) is not None
    last = await store.delete("a3")
    assert last is not None and last.remaining == 0
    assert await store.cluster(first.cluster) is None
    again = await ingest(store, fingerprinter, "a4", articles.text(STORY_A))
    assert not again.duplicate
    assert await store.check() == []


async def test_similar_changes_nothing(store: IndexStore, fingerprinter: Fingerprinter) -> None:
    a = await ingest(store, fingerprinter, "a1", articles.text(STORY_A))
    found = await store.similar(fingerprinter.probe(articles.text(STORY_A[:4])), limit=5)
    assert found.cluster == a.cluster
    assert [m.article_id for m in found.matches] == ["a1"]
    none = await store.similar(fingerprinter.probe(articles.text(STORY_B)), limit=5)
    assert none.cluster is None and none.matches == ()
    view = await store.cluster(a.cluster)
    assert view is not None and len(view.members) == 1
    assert await store.check() == []


async def test_near_full_copy_of_two_clusters_merges_them(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    # Two versions of one story that LSH verification kept apart (resemblance
    # just under the threshold), then a version between them that is a
    # near-full copy of both: one story after all.
    long_story = articles.story(7, paragraphs=20)
    left = long_story[:13]
    right = long_story[7:]
    middle = long_story
    fp = fingerprinter
    p_left, p_right, p_mid = (fp.probe(articles.text(x)) for x in (left, right, middle))
    policy = MatchPolicy()
    sim_lr = compare(
        p_left.signature, p_right.signature, p_left.shingle_count, p_right.shingle_count
    )
    assert sim_lr.jaccard < policy.min_jaccard and sim_lr.containment < policy.min_containment
    for p in (p_left, p_right):
        sim = compare(p_mid.signature, p.signature, p_mid.shingle_count, p.shingle_count)
        assert sim.jaccard >= policy.merge_jaccard

    lo = await ingest(store, fp, "left", articles.text(left))
    ro = await ingest(store, fp, "right", articles.text(right))
    assert lo.cluster != ro.cluster
    mo = await ingest(store, fp, "middle", articles.text(middle))
    assert mo.cluster == min(lo.cluster, ro.cluster)
    assert {m.cluster for m in mo.matches} == {mo.cluster}
    view = await store.cluster(mo.cluster)
    assert view is not None
    assert sorted(m.article_id for m in view.members) == ["left", "middle", "right"]
    assert await store.cluster(max(lo.cluster, ro.cluster)) is None
    assert await store.check() == []


async def test_batch_articles_see_each_other(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    outcomes = await store.ingest(
        [
            item(fingerprinter, "a1", articles.text(STORY_A)),
            item(fingerprinter, "b1", articles.text(STORY_B)),
            item(fingerprinter, "a2", articles.text(STORY_A[:5])),
        ]
    )
    assert [o.duplicate for o in outcomes] == [False, False, True]
    assert outcomes[2].cluster == outcomes[0].cluster != outcomes[1].cluster


async def test_expire_removes_old_articles_completely(
    redis_server: RedisServer,
    redis_cluster: LocalRedisCluster,
    namespace: str,
    fingerprinter: Fingerprinter,
) -> None:
    for kind in ("memory", "redis", "cluster"):
        clock = Clock(100 * HOUR_MS)
        policy = MatchPolicy()
        store: IndexStore
        if kind == "memory":
            store = MemoryStore(policy, clock_ms=clock)
        elif kind == "redis":
            store = RedisStore.from_url(redis_server.url, namespace, policy, clock_ms=clock)
        else:
            store = RedisClusterStore.from_url(redis_cluster.url, namespace, policy, clock_ms=clock)
        await store.open(fingerprinter.settings.store_settings())
        await ingest(store, fingerprinter, "old", articles.text(STORY_A))
        await ingest(store, fingerprinter, "old-copy", articles.text(STORY_A))
        clock.now += 10 * HOUR_MS
        await ingest(store, fingerprinter, "new-copy", articles.text(STORY_A))
        await ingest(store, fingerprinter, "new", articles.text(STORY_B))
        assert await store.expire(clock.now - 5 * HOUR_MS, budget=1) == 1
        assert await store.expire(clock.now - 5 * HOUR_MS, budget=100) == 1
        assert await store.expire(clock.now - 5 * HOUR_MS, budget=100) == 0
        assert await store.article("old") is None and await store.article("old-copy") is None
        view = await store.cluster_of_article("new-copy")
        assert view is not None and [m.article_id for m in view.members] == ["new-copy"], kind
        assert await store.check() == [], kind
        await store.close()


@pytest.mark.parametrize("backend", ["redis", "cluster"])
async def test_redis_stores_work_on_after_the_script_cache_is_emptied(
    request: pytest.FixtureRequest, backend: str, namespace: str, fingerprinter: Fingerprinter
) -> None:
    """Scripts run by SHA1; a Redis that lost them (a restart, a failover,
    SCRIPT FLUSH) gets them again, and every call of the batch runs once."""
    store: RedisStore | RedisClusterStore
    if backend == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        store = RedisStore.from_url(server.url, namespace, MatchPolicy())
    else:
        nodes: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        store = RedisClusterStore.from_url(nodes.url, namespace, MatchPolicy())
    await store.open(fingerprinter.settings.store_settings())
    first = await ingest(store, fingerprinter, "f1", articles.text(STORY_A))
    await store.client.script_flush()
    outcomes = await store.ingest(
        [
            item(fingerprinter, "f2", articles.text(articles.edited(STORY_A, seed=4, share=0.03))),
            item(fingerprinter, "f3", articles.text(STORY_B)),
            item(fingerprinter, "f4", articles.text(STORY_B[:5])),
        ]
    )
    assert [o.duplicate for o in outcomes] == [True, False, True]
    assert outcomes[0].cluster == first.cluster and outcomes[2].cluster == outcomes[1].cluster
    await store.client.script_flush()
    view = await store.cluster_of_article("f4")
    assert view is not None and [m.article_id for m in view.members] == ["f3", "f4"]
    assert await store.check() == []
    await store.close()


async def test_redis_commit_refuses_a_decision_from_reads_since_changed(
    redis_server: RedisServer, namespace: str, fingerprinter: Fingerprinter
) -> None:
    """A commit whose reads changed before it (another article committed, or
    one deleted) writes nothing, and the article is decided again from what
    is there now; one whose namespace changed elsewhere commits at once."""
    store = RedisStore.from_url(redis_server.url, namespace, MatchPolicy())
    await store.open(fingerprinter.settings.store_settings())
    now = 0.0

    # Read into an empty index, then a copy of the story commits first: the
    # stale decision (a new story) is refused and the article joins it.
    early = item(fingerprinter, "a-late", articles.text(STORY_A))
    stale = await store._gather(early.article_id, early.probe)
    assert stale.candidates == []
    first = await ingest(store, fingerprinter, "a-first", articles.text(STORY_A))
    outcome, _ = await store._ingest_one(early, now, stale, None)
    assert outcome.duplicate and outcome.cluster == first.cluster

    # Read with its only copy as a candidate, which is then deleted: the join
    # is refused and the article starts a story of its own.
    b1 = await ingest(store, fingerprinter, "b-1", articles.text(STORY_B))
    b2 = item(fingerprinter, "b-2", articles.text(STORY_B))
    stale = await store._gather(b2.article_id, b2.probe)
    assert [c.key for c in stale.candidates] == [b1.cluster]
    assert await store.delete("b-1") is not None
    outcome, _ = await store._ingest_one(b2, now, stale, None)
    assert not outcome.duplicate and outcome.cluster != b1.cluster

    # Read, then an article of another story commits: the namespace changed,
    # not what was read, and the commit goes through without reading again.
    c = item(fingerprinter, "c-1", articles.text(STORY_C))
    read = await store._gather(c.article_id, c.probe)
    await ingest(store, fingerprinter, "a-third", articles.text(STORY_A))
    gathers = 0
    original = store._gather

    async def counting(article_id: str, probe: Probe) -> Any:
        nonlocal gathers
        gathers += 1
        return await original(article_id, probe)

    store._gather = counting  # type: ignore[method-assign]
    outcome, _ = await store._ingest_one(c, now, read, None)
    assert gathers == 0 and not outcome.duplicate
    assert await store.check() == []
    await store.close()


async def test_redis_leaves_no_keys_after_everything_expired(
    redis_server: RedisServer, namespace: str, fingerprinter: Fingerprinter
) -> None:
    clock = Clock(50 * HOUR_MS)
    policy = MatchPolicy()
    store = RedisStore.from_url(redis_server.url, namespace, policy, clock_ms=clock)
    await store.open(fingerprinter.settings.store_settings())
    for i, story in enumerate((STORY_A, STORY_A, STORY_B, STORY_C)):
        await ingest(store, fingerprinter, f"x{i}", articles.text(story))
    await store.delete("x3")
    clock.now += 48 * HOUR_MS
    assert await store.expire(clock.now, budget=100) == 3
    keys = sorted([k async for k in store.client.scan_iter(match=f"sd:{{{namespace}}}:*")])
    # And the event log, which tells of the expiry, and the counters of
    # article numbers and of the namespace's changes (lua/common.lua version).
    prefix = f"sd:{{{namespace}}}:"
    assert keys == [f"{prefix}{kind}".encode() for kind in ("meta", "n", "v", "x")]
    assert await store.check() == []
    await store.close()


async def test_redis_cluster_leaves_no_keys_after_everything_expired(
    redis_cluster: LocalRedisCluster, namespace: str, fingerprinter: Fingerprinter
) -> None:
    """Merged clusters, deletes and re-ingests included: nothing but the
    namespace's settings remains on any shard."""
    clock = Clock(50 * HOUR_MS)
    store = RedisClusterStore.from_url(redis_cluster.url, namespace, MatchPolicy(), clock_ms=clock)
    await store.open(fingerprinter.settings.store_settings())
    # Merged clusters (as in test_near_full_copy_of_two_clusters_merges_them).
    long_story = articles.story(7, paragraphs=20)
    bodies = (long_story[:13], long_story[7:], long_story, STORY_B, STORY_B[:4], STORY_C)
    outcomes = [
        await ingest(store, fingerprinter, f"x{i}", articles.text(body))
        for i, body in enumerate(bodies)
    ]
    assert outcomes[0].cluster != outcomes[1].cluster
    assert outcomes[2].cluster == min(outcomes[0].cluster, outcomes[1].cluster)
    await ingest(store, fingerprinter, "x3", articles.text(STORY_B[1:]))
    await store.delete("x5")
    clock.now += 48 * HOUR_MS
    assert await store.expire(clock.now, budget=1000) == 5
    assert await store.cluster(outcomes[2].cluster) is None
    keys = sorted(
        [
            k
            async for k in store.client.scan_iter(
                match=f"sd:{namespace}:*", target_nodes="primaries"
            )
        ]
    )
    # And the event log, which tells of the expiry.
    assert keys == [
        f"sd:{namespace}:feed{{{namespace}}}:events".encode(),
        f"sd:{namespace}:meta".encode(),
    ]
    assert await store.check() == []
    await store.close()


async def test_all_stores_give_the_same_answers(
    redis_server: RedisServer,
    redis_cluster: LocalRedisCluster,
    namespace: str,
    fingerprinter: Fingerprinter,
) -> None:
    """A mixed sequence of ingests, re-ingests and deletes gives identical
    outcomes from every adapter, and the same clusters in the end, up to the
    names of the clusters (the Redis Cluster store draws random cluster IDs,
    and keeps the lower one when two clusters merge)."""
    policy = MatchPolicy()
    stores: list[IndexStore] = [
        MemoryStore(policy),
        RedisStore.from_url(redis_server.url, namespace, policy),
        RedisClusterStore.from_url(redis_cluster.url, namespace, policy),
    ]
    for s in stores:
        await s.open(fingerprinter.settings.store_settings())
    bodies = [
        STORY_A,
        STORY_B,
        STORY_C,
        STORY_A[:3],
        STORY_B[2:],
        STORY_A[:2] + STORY_C[:2],
        articles.edited(STORY_C, 4, 0.1),
        STORY_A + STORY_B[:1],
        STORY_B[:6],
        STORY_C[:2] + STORY_A + STORY_B,
        [STORY_A[9], *STORY_B[:3]],
    ]
    results: list[list[object]] = [[] for _ in stores]
    for step, body in zip(itertools.count(), bodies * 2, strict=False):
        article_id = f"n{step % 13}"
        for s, out in zip(stores, results, strict=True):
            [o] = await s.ingest([item(fingerprinter, article_id, articles.text(body), step)])
            out.append(_unnamed(o))
            if step % 5 == 4:
                out.append(_unnamed(await s.delete(f"n{(step * 7) % 13}")))
    assert results[0] == results[1] == results[2]
    partitions = [await _partition(s, [f"n{i}" for i in range(13)]) for s in stores]
    assert partitions[0] == partitions[1] == partitions[2]
    assert any(len(cluster) > 1 for cluster in partitions[0])
    for s in stores:
        assert await s.check() == []
        await s.close()


def _unnamed(outcome: object) -> object:
    """The outcome without cluster IDs: whether each match is in the
    article's own cluster instead."""
    if isinstance(outcome, IngestOutcome):
        return (
            outcome.article_id,
            outcome.duplicate,
            outcome.canonical_article_id,
            outcome.unchanged,
            tuple(
                (m.article_id, m.jaccard, m.containment, m.cluster == outcome.cluster)
                for m in outcome.matches
            ),
        )
    if isinstance(outcome, DeleteOutcome):
        return outcome.remaining
    return outcome


async def _partition(store: IndexStore, article_ids: list[str]) -> set[frozenset[str]]:
    """The clusters, as sets of the article IDs in them."""
    clusters: set[frozenset[str]] = set()
    for article_id in article_ids:
        view = await store.cluster_of_article(article_id)
        if view is not None:
            clusters.add(frozenset(r.article_id for r in view.members))
    return clusters


async def test_a_big_story_keeps_joining_with_bounded_buckets(
    store: IndexStore, fingerprinter: Fingerprinter, namespace: str
) -> None:
    copies = BUCKET_MEMBERS + 10
    outcomes = [
        await ingest(
            store,
            fingerprinter,
            f"big-{i}",
            articles.text(articles.edited(STORY_A, seed=100 + i, share=0.02)),
            1000.0 + i,
        )
        for i in range(copies)
    ]
    assert {o.cluster for o in outcomes} == {outcomes[0].cluster}
    assert sum(o.duplicate for o in outcomes) == copies - 1
    # The oldest copies left the buckets they share with newer ones; they
    # still leave the index whole when deleted, and a check finds nothing.
    assert await store.delete("big-0") is not None
    assert await store.check() == []
    if isinstance(store, RedisStore):
        longest = 0
        async for key in store.client.scan_iter(match=f"{key_prefix(namespace)}b:*"):
            values = await store.client.hvals(key)
            longest = max(longest, *(len(v) for v in values))
        # 4 bytes an article: the hashes stay listpacks (values <= 64 bytes).
        assert longest == 4 * BUCKET_MEMBERS


@pytest.mark.parametrize("kind", ["redis", "cluster"])
async def test_a_namespace_keeps_its_tokenizer(
    request: pytest.FixtureRequest, kind: str, namespace: str, fingerprinter: Fingerprinter
) -> None:
    """A namespace is bound to the tokenizer it was created with: a server
    set to another is refused, naming the setting; one created before the
    setting existed (its meta hash without the field) was written with words."""
    policy = MatchPolicy()

    def make(name: str) -> RedisStore | RedisClusterStore:
        if kind == "redis":
            return RedisStore.from_url(request.getfixturevalue("redis_server").url, name, policy)
        cluster: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        return RedisClusterStore.from_url(cluster.url, name, policy)

    ngrams = fingerprinter.settings.store_settings()
    words = replace(ngrams, tokenizer="words")
    assert ngrams.tokenizer == "ngrams"
    first = make(namespace)
    await first.open(ngrams)
    await first.close()
    other = make(namespace)
    with pytest.raises(StoreLayoutError, match=r"other fingerprint settings \(tokenizer=ngrams\)"):
        await other.open(words)
    await other.close()

    # A namespace from before the setting: every other field, no tokenizer.
    legacy = make(namespace + "-legacy")
    meta_key = legacy._meta_key if isinstance(legacy, RedisStore) else legacy._keys.meta
    for name, value in words.as_fields().items():
        if name != "tokenizer":
            await legacy.client.hset(meta_key, name, value)
    with pytest.raises(StoreLayoutError, match=r"\(tokenizer=words\)"):
        await legacy.open(ngrams)
    await legacy.open(words)
    assert b"tokenizer" not in await legacy.client.hgetall(meta_key)
    await legacy.close()


async def test_full_story_holding_its_edited_and_truncated_copies_links_them(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    """An edited copy (a dateline on the lead, a paragraph dropped, words
    changed) and a truncated copy arrive first and do not match each other.
    A full copy of the story holds both whole; it is a near-full copy of the
    edited one, so it is that story, not a page quoting two, and once one
    full copy is in with the edited copy the next links the truncated copy's
    cluster through it."""
    story = articles.story(41, paragraphs=10)
    edited = articles.edited(story, seed=6, share=0.05)
    edited = ["BERLIN (dpa) - " + edited[0], *edited[2:]]
    first = await ingest(store, fingerprinter, "edited", articles.text(edited), 1000.0)
    cut = await ingest(store, fingerprinter, "truncated", articles.text(story[:4]), 2000.0)
    assert cut.cluster != first.cluster  # the copies alone are two clusters
    await ingest(store, fingerprinter, "full", articles.text(story), 3000.0)
    again = await ingest(store, fingerprinter, "full-again", articles.text(story), 4000.0)
    view = await store.cluster(again.cluster)
    assert view is not None
    members = sorted(m.article_id for m in view.members)
    assert members == ["edited", "full", "full-again", "truncated"]


def test_the_scripts_read_the_record_layout_of_records_py() -> None:
    # common.lua reads and sets record fields by offset; the layout is
    # written down once, in store/records.py.
    source = LuaScript.read("common.lua").source
    header = re.search(r"local HEADER = (\d+)", source)
    layout = re.search(r"local FLAGS, COMPOSITE = (\d+), (\d+)", source)
    assert header is not None and layout is not None
    flags, composite = map(int, layout.groups())
    record = ArticleRecord("a", 7, 1.0, 2.0, 3, True, b"d" * 8, (), b"s", b"", composite=True)
    raw = record.pack()
    assert int(header[1]) == HEADER_BYTES
    assert raw[flags] == FLAG_JOINED | composite == FLAG_JOINED | FLAG_COMPOSITE
    assert ArticleRecord.unpack(raw) == record


async def test_a_version_alone_by_arrival_order_is_linked_when_two_versions_vouch(
    store: IndexStore, fingerprinter: Fingerprinter
) -> None:
    """A lightly edited brief with a caption on top arrives when its story's
    cluster holds the full story (too long to confirm it) and two identical
    copies of a 5-paragraph version (one version, not two): it starts a
    cluster of its own. A 2-paragraph cut of the story joins the story;
    then another copy of the 5-paragraph version, which matches the brief
    too, links it: the 5-paragraph version (not shorter than the brief, and
    mostly each other's sentences) and the cut (another version the brief
    matches) consent, as they would had the brief arrived now."""
    story = articles.story(43, paragraphs=20)
    five = articles.text(story[:5])
    full = await ingest(store, fingerprinter, "full", articles.text(story), 1000.0)
    for n, name in enumerate(("five", "five-again")):
        joined = await ingest(store, fingerprinter, name, five, 2000.0 + n)
        assert joined.cluster == full.cluster
    caption = "Officials stand outside the venue on Sunday in a photo taken by the agency."
    brief_text = articles.text([caption, *articles.edited(story[:4], seed=9, share=0.06)])
    brief = await ingest(store, fingerprinter, "brief", brief_text, 3000.0)
    assert brief.cluster != full.cluster
    cut = await ingest(store, fingerprinter, "cut", articles.text(story[:2]), 4000.0)
    assert cut.cluster == full.cluster
    await ingest(store, fingerprinter, "five-third", five, 5000.0)
    # The merged cluster's ID is the joined one's, or on Redis Cluster the
    # lowest of the two.
    records = [await store.article(name) for name in ("brief", "full", "cut")]
    assert all(records) and len({r.cluster for r in records if r}) == 1
