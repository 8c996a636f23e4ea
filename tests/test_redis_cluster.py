"""storydedup on a real local Redis Cluster (3 masters, 3 replicas): a
master stopped under load fails over to its replica and the service serves
again without a restart, leaving a consistent namespace; and several server
replicas on the cluster produce the same clusters as one server on a single
Redis. The contract and concurrency suites run on the cluster too
(tests/test_store_contract.py, tests/test_concurrency.py)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator

import grpc
import pytest
from storydedup.v1 import storydedup_pb2 as pb
from storydedup.v1 import storydedup_pb2_grpc as pb_grpc

from tests.support import articles, syndication
from tests.support.checks import admin_check, assert_namespace_consistent
from tests.support.redis_cluster import LocalRedisCluster
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.slow

CALL_TIMEOUT = 30.0


def cluster_env(cluster: LocalRedisCluster, namespace: str) -> dict[str, str]:
    # Every node as a seed would be what an operator writes; one is enough
    # for the client, which discovers the rest.
    return {
        "STORYDEDUP_REDIS_URL": cluster.url,
        "STORYDEDUP_REDIS_CLUSTER": "true",
        "STORYDEDUP_NAMESPACE": namespace,
        "STORYDEDUP_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def own_cluster() -> Iterator[LocalRedisCluster]:
    """A cluster of this test's own: it stops one of the masters."""
    cluster = LocalRedisCluster().start()
    yield cluster
    cluster.cleanup()


async def test_master_failover_under_load_serves_again_and_stays_consistent(
    own_cluster: LocalRedisCluster,
) -> None:
    namespace = "failover"
    server = ServerProcess(cluster_env(own_cluster, namespace)).start()
    stop_loading = asyncio.Event()
    acknowledged: dict[str, str] = {}
    statuses: list[grpc.StatusCode] = []

    async def load(worker: int) -> None:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.StoryDedupServiceStub(channel)
            n = 0
            while not stop_loading.is_set():
                seed = 70_000 + (worker * 1000 + n) // 4  # four copies per story
                article_id = f"w{worker}-{n}"
                request = pb.IngestArticleRequest(
                    article=syndication.copy_article(
                        article_id, articles.story(seed, paragraphs=6), outlet=n % 4, seed=seed
                    )
                )
                # As a client should: retry the same article on UNAVAILABLE.
                while True:
                    try:
                        reply = await stub.IngestArticle(request, timeout=CALL_TIMEOUT)
                        acknowledged[article_id] = reply.cluster_id
                        break
                    except grpc.aio.AioRpcError as error:
                        statuses.append(error.code())
                        if error.code() != grpc.StatusCode.UNAVAILABLE:
                            raise
                        await asyncio.sleep(0.2)
                n += 1

    try:
        loaders = [asyncio.create_task(load(w)) for w in range(4)]
        await asyncio.sleep(3)
        before = len(acknowledged)
        assert before > 0
        victim = own_cluster.masters_now()[0]
        stopped_at = time.monotonic()
        await asyncio.to_thread(victim.stop)
        await asyncio.to_thread(own_cluster.wait_ok, 60)
        # Serving again: articles keep being acknowledged after the failover.
        while len(acknowledged) < before + 100:
            assert time.monotonic() - stopped_at < 90, "no progress after the failover"
            for task in loaders:
                if task.done():
                    task.result()
            await asyncio.sleep(0.2)
        stop_loading.set()
        await asyncio.gather(*loaders)
        assert server.health() == "SERVING"
        assert set(statuses) <= {grpc.StatusCode.UNAVAILABLE}

        # Every acknowledged article is there, in a cluster with its story.
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.StoryDedupServiceStub(channel)
            for article_id in random.Random(1).sample(sorted(acknowledged), 60):
                info = await stub.GetArticle(
                    pb.GetArticleRequest(article_id=article_id), timeout=CALL_TIMEOUT
                )
                assert info.article.article_id == article_id and info.cluster_id
        survivor = own_cluster.running()[0].url.removesuffix("/0")
        await asyncio.to_thread(assert_namespace_consistent, survivor, namespace, True)
        report = await asyncio.to_thread(admin_check, survivor, namespace, True)
        assert "0 findings" in report.stderr
    finally:
        stop_loading.set()
        server.stop()


def corpus() -> list[pb.Article]:
    """Syndicated copies of twelve stories (full, edited, truncated; by
    outlet, some in its page chrome: tests/support/syndication.py), versions
    that only a later copy ties together, and roundups quoting the leads of
    several stories.

    The outlets' chrome is learned as the stream goes (after three clusters
    of an outlet), in Redis: a replica that saw a third of an outlet's pages
    cleans the next one as a server that saw them all would. With chrome
    learned per process instead, this test fails.
    """
    out: list[pb.Article] = []
    rng = random.Random(5)
    for story in range(12):
        seed = 60_000 + story
        paragraphs = articles.story(seed, paragraphs=10)
        versions = [
            paragraphs,
            articles.edited(paragraphs, seed, 0.1),
            paragraphs[:4],
            paragraphs[:7],
            paragraphs[5:],
        ]
        for outlet in range(6):
            body = versions[rng.randrange(len(versions))]
            out.append(article(f"s{story}-o{outlet}", body, outlet, seed))
    for roundup in range(4):
        leads = [articles.story(60_000 + s, paragraphs=10)[0] for s in range(roundup, 12, 4)]
        out.append(article(f"roundup{roundup}", leads, roundup, 61_000 + roundup))
    rng.shuffle(out)
    return out


def article(article_id: str, paragraphs: list[str], outlet: int, seed: int) -> pb.Article:
    return syndication.copy_article(article_id, paragraphs, outlet, seed)


async def partition(targets: list[str], batch: list[pb.Article]) -> set[frozenset[str]]:
    """Ingests the articles in order, round-robin over the servers, one at
    a time; returns the clusters as sets of article IDs."""
    channels = [grpc.aio.insecure_channel(t) for t in targets]
    try:
        stubs = [pb_grpc.StoryDedupServiceStub(c) for c in channels]
        for i, article in enumerate(batch):
            await stubs[i % len(stubs)].IngestArticle(
                pb.IngestArticleRequest(article=article), timeout=CALL_TIMEOUT
            )
        clusters: set[frozenset[str]] = set()
        for i, article in enumerate(batch):
            reply = await stubs[(i + 1) % len(stubs)].GetCluster(
                pb.GetClusterRequest(article_id=article.id), timeout=CALL_TIMEOUT
            )
            clusters.add(frozenset(m.article_id for m in reply.cluster.members))
        return clusters
    finally:
        await asyncio.gather(*(c.close() for c in channels))


async def test_three_replicas_on_the_cluster_equal_one_server_on_one_redis(
    redis_cluster: LocalRedisCluster, redis_server: RedisServer
) -> None:
    batch = corpus()
    replicas = [ServerProcess(cluster_env(redis_cluster, "replicas")) for _ in range(3)]
    single = ServerProcess(
        {
            "STORYDEDUP_REDIS_URL": redis_server.url,
            "STORYDEDUP_NAMESPACE": "single",
            "STORYDEDUP_LOG_LEVEL": "WARNING",
        }
    )
    try:
        for process in (*replicas, single):
            await asyncio.to_thread(process.start)
        on_cluster = await partition([r.target for r in replicas], batch)
        on_single = await partition([single.target], batch)
    finally:
        for process in (*replicas, single):
            process.stop()
    assert on_cluster == on_single
    # Not trivially equal: stories grouped, roundups on their own.
    assert 12 <= len(on_single) < len(batch)
    for roundup in range(4):
        assert frozenset({f"roundup{roundup}"}) in on_single
    await asyncio.to_thread(assert_namespace_consistent, redis_cluster.url, "replicas", True)
