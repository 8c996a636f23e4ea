"""Learned chrome kept in Redis (store/redis_chrome.py, lua/chrome.lua)
follows the rules of the in-process model (cleaning/chrome.py): the same
sequence of articles gives the same chrome, on one Redis and on a Redis
Cluster, bounded and forgotten alike."""

from __future__ import annotations

import random

import pytest
import xxhash
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from storydedup.cleaning.chrome import ChromeModel, line_key
from storydedup.cleaning.chrome_state import ChromeState, LocalChromeState
from storydedup.dedup import Deduplicator, PreparedArticle
from storydedup.store.redis_chrome import RedisChromeState, cluster_keys, single_redis_keys
from storydedup.v1 import storydedup_pb2 as pb
from storydedup_client import Article, AsyncStoryDedupClient

from tests.conftest import running_server
from tests.support import articles
from tests.support.redis_cluster import LocalRedisCluster
from tests.support.redis_server import RedisServer

DAY_MS = 86_400_000.0


@pytest.mark.parametrize("max_lines", [40, 400], ids=["evicting", "forgetting"])
@pytest.mark.parametrize("backend", ["redis", "cluster"])
async def test_redis_chrome_learns_and_forgets_as_the_local_model(
    request: pytest.FixtureRequest, backend: str, namespace: str, max_lines: int
) -> None:
    # Small bounds, so that eviction (40 lines) or forgetting (25 articles)
    # happens in a short run.
    def rules() -> ChromeModel:
        return ChromeModel(min_clusters=3, max_lines=max_lines, forget_after=25)

    shared: ChromeState
    if backend == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        client: Redis | RedisCluster = Redis.from_url(server.url)
        shared = RedisChromeState(client, single_redis_keys(namespace), DAY_MS, rules())
    else:
        nodes: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        client = RedisCluster.from_url(nodes.url)
        shared = RedisChromeState(client, cluster_keys(namespace), DAY_MS, rules())
    local = LocalChromeState(rules())
    rng = random.Random(3)
    sources = ["a.example", "b.example", "c.example"]
    # Per source: a few chrome lines on every page, a retired block that
    # stops after a while, and story lines of the page's cluster.
    chrome = {s: [rng.getrandbits(63) for _ in range(5)] for s in sources}
    retired = {s: [rng.getrandbits(63) for _ in range(5)] for s in sources}
    learned_any = False
    for page in range(130):
        source = rng.choice(sources)
        cluster = rng.randrange(1, 30)
        # The retired block comes back once, after it has been forgotten.
        back = page < 40 or page == 110
        lines = [*chrome[source], *(retired[source] if back else [])]
        lines += [xxhash.xxh3_64_intdigest(f"{source} {cluster} {i}".encode()) for i in range(8)]
        lines += [rng.getrandbits(63) for _ in range(3)]
        query = [(source, lines)]
        expected = await local.lookup(query)
        assert await shared.lookup(query) == expected, f"page {page}"
        assert shared.lines.chrome_keys(source, lines) == expected[0]
        learned_any = learned_any or bool(expected[0])
        await local.learn([(source, lines, cluster)])
        await shared.learn([(source, lines, cluster)])
    assert learned_any
    # The live chrome is chrome; the retired block is what the model says
    # after coming back once (still known: chrome again at once).
    for source in sources:
        query = [(source, [*chrome[source], *retired[source]])]
        [now] = await shared.lookup(query)
        assert now == (await local.lookup(query))[0]
        assert set(chrome[source]) <= now
    await client.aclose()


async def test_a_source_holds_a_bounded_number_of_lines_and_keeps_its_live_chrome(
    redis_server: RedisServer, namespace: str
) -> None:
    # Every page brings 12 lines never seen before and repeats the previous
    # page's 12 (a "related stories" block): without eviction the state
    # would grow by 12 lines a page.
    rules = ChromeModel(min_clusters=3, max_lines=100, forget_after=10_000)
    client = Redis.from_url(redis_server.url)
    keys = single_redis_keys(namespace)
    shared = RedisChromeState(client, keys, DAY_MS, rules)
    rng = random.Random(5)
    menu = [rng.getrandbits(63) for _ in range(6)]
    counts = []
    story: list[int] = []
    for page in range(200):
        before, story = story, [rng.getrandbits(63) for _ in range(12)]
        await shared.learn([("a.example", [*menu, *before, *story], page)])
        # Less the counters of articles and of changes to the chrome set.
        held = await client.hlen(keys("a.example")[0]) - 2
        counts.append(held)
        if page == 0:
            # Lines seen once are this process's to remember, not Redis's:
            # most of a page's lines are its story's, never chrome.
            assert held == 0
    # Up to max_lines and a quarter; eviction takes whole pages' lines, so
    # it leaves at least max_lines less one page's worth.
    assert max(counts) <= 125
    assert min(counts[100:]) > 100 - 18
    # The menu, on every page, is never the oldest: it stays chrome; the
    # lines of the page before the last, seen twice, are kept; the last
    # page's story lines, seen once, are not in Redis.
    [chrome] = await shared.lookup([("a.example", [*menu, *before, *story])])
    assert chrome == set(menu)
    for line in before:
        assert await client.hexists(keys("a.example")[0], line.to_bytes(8, "big"))
    for line in story:
        assert not await client.hexists(keys("a.example")[0], line.to_bytes(8, "big"))
    await client.aclose()


async def test_replicas_that_each_saw_a_line_in_other_clusters_learn_it_together(
    redis_server: RedisServer, namespace: str
) -> None:
    # Two servers share the state; each sees the menu on pages of two
    # clusters: between them, three clusters, and it is chrome for both.
    client = Redis.from_url(redis_server.url)
    keys = single_redis_keys(namespace)
    one, two = (
        RedisChromeState(client, keys, DAY_MS, ChromeModel(min_clusters=3)) for _ in range(2)
    )
    menu = [line_key(line) for line in ("World", "Business", "Sign in")]
    await one.learn([("a.example", menu, 1), ("a.example", menu, 2)])
    assert await one.lookup([("a.example", menu)]) == [set()]
    await two.learn([("a.example", menu, 2)])
    await two.learn([("a.example", menu, 3)])
    assert await one.lookup([("a.example", menu)]) == [set(menu)]
    assert await two.lookup([("a.example", menu)]) == [set(menu)]
    await client.aclose()


async def test_a_batch_is_cleaned_once_with_the_chrome_learned_before_it(
    redis_server: RedisServer, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    menu = ["Harbour Herald", "World", "Business", "Sign in", "Most read", "© Harbour Herald"]

    def page(article_id: str, story: int) -> Article:
        body = articles.text(articles.story(story, paragraphs=6))
        text = "\n".join([*menu[:5], body, menu[5]])
        return Article(id=article_id, text=text, source="herald.example")

    prepared: list[str] = []
    prepare = Deduplicator.prepare

    def counting(self: Deduplicator, article: pb.Article, field: str) -> PreparedArticle:
        prepared.append(article.id)
        return prepare(self, article, field)

    monkeypatch.setattr(Deduplicator, "prepare", counting)
    raw = {"port": "0", "namespace": namespace, "redis_url": redis_server.url}
    async with (
        running_server(raw) as running,
        AsyncStoryDedupClient(f"127.0.0.1:{running.port}", timeout=30) as client,
    ):
        await client.ingest_articles([page(f"first-{i}", 40 + i) for i in range(4)])
        # The menu was seen in four clusters: it is chrome from now on.
        prepared.clear()
        await client.ingest_articles([page(f"second-{i}", 50 + i) for i in range(4)])
        assert sorted(prepared) == [f"second-{i}" for i in range(4)]
        # (and it is: otherwise nothing would have been cleaned twice)
        shared = RedisChromeState(
            Redis.from_url(redis_server.url), single_redis_keys(namespace), DAY_MS
        )
        keys = [line_key(line) for line in menu]
        assert await shared.lookup([("herald.example", keys)]) == [set(keys)]


async def test_a_stable_sources_chrome_costs_redis_little(
    redis_server: RedisServer, namespace: str
) -> None:
    # forget_after 6,400: a line already chrome is told again, and the chrome
    # set read again, once every 100 of the source's articles.
    rules = ChromeModel(min_clusters=3, forget_after=6_400)
    assert rules.refresh_every == 100
    client = Redis.from_url(redis_server.url)
    shared = RedisChromeState(client, single_redis_keys(namespace), DAY_MS, rules)
    rng = random.Random(11)
    menu = [rng.getrandbits(63) for _ in range(8)]
    await client.config_resetstat()
    for page in range(300):
        story = [rng.getrandbits(63) for _ in range(20)]
        [chrome] = await shared.lookup([("a.example", [*menu, *story])])
        # Chrome from the third cluster on, and never forgotten between refreshes.
        assert chrome == (set(menu) if page >= 3 else set()), f"page {page}"
        await shared.learn([("a.example", [*menu, *story], page)])
    stats = await client.info("commandstats")
    # The menu lines are told when seen in their second and third cluster,
    # then once every 100 articles: not on each of the 300 pages; and the
    # lines of one call are read and written with one command each (and the
    # count of changes once, when the chrome set changed).
    told_calls = 2 + 3
    assert stats["cmdstat_hset"]["calls"] <= told_calls + 1
    # The chrome set is read every 100 articles, not when this process's own
    # learning changed it: the learn call's reply has what it added.
    assert stats["cmdstat_smembers"]["calls"] <= 3
    assert stats["cmdstat_hmget"]["calls"] <= 3 + told_calls
    # The count of changes sits where the replicas of the version before look
    # for lines, as a line that never ages: during a rolling upgrade their
    # eviction neither fails on it nor drops it.
    counter = await client.hget(single_redis_keys(namespace)("a.example")[0], "$")
    assert counter is not None and len(counter) == 8 and counter[:4] == b"\xff" * 4
    await client.aclose()


@pytest.mark.parametrize("backend", ["redis", "cluster"])
async def test_the_learners_view_is_what_a_fresh_lookup_reads(
    request: pytest.FixtureRequest, backend: str, namespace: str
) -> None:
    # A learning call that only adds chrome hands the learner the lines it
    # added, so that its next lookup need not read the whole set: that view
    # must be the one a process that never learnt reads from Redis, page
    # after page, through refresh steps (every 4 articles here), teasers
    # that rotate out and are forgotten, and eviction.
    def rules() -> ChromeModel:
        return ChromeModel(min_clusters=3, max_lines=60, forget_after=256)

    if backend == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        client: Redis | RedisCluster = Redis.from_url(server.url)
        keys = single_redis_keys(namespace)
    else:
        nodes: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        client = RedisCluster.from_url(nodes.url)
        keys = cluster_keys(namespace)
    assert rules().refresh_every == 4
    learner = RedisChromeState(client, keys, DAY_MS, rules())
    rng = random.Random(17)
    menu = [rng.getrandbits(63) for _ in range(6)]
    teasers = [rng.getrandbits(63) for _ in range(120)]
    learnt = 0
    for page in range(400):
        window = teasers[page // 5 : page // 5 + 20]
        lines = [*menu, *rng.sample(window, 8), *(rng.getrandbits(63) for _ in range(10))]
        query = [("a.example", lines)]
        await learner.lookup(query)
        looked_up = learner.lines.known("a.example")
        await learner.learn([("a.example", lines, page % 23)])
        learnt += learner.lines.known("a.example") != looked_up
        fresh = RedisChromeState(client, keys, DAY_MS, rules())
        assert await learner.lookup(query) == await fresh.lookup(query), f"page {page}"
        assert learner.lines.known("a.example") == fresh.lines.known("a.example"), f"page {page}"
    # The learner's view changed with its own learning calls, not only on lookups.
    assert learnt > 0
    await client.aclose()
