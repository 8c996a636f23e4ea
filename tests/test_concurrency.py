"""Concurrent ingestion through two server processes that share one
namespace, on a single Redis and on a Redis Cluster: copies of a story that
arrive at the same moment end in one cluster, the same article ID sent at
once by many clients is one record, and the namespace stays consistent
(`storydedup-admin check`)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from storydedup.cleaning.chrome_state import ChromeState
from storydedup.clustering.policy import MatchPolicy, compare, is_match
from storydedup.dedup import Deduplicator
from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings
from storydedup.store.base import IndexStore
from storydedup.store.cluster_store import RedisClusterStore
from storydedup.store.memory import MemoryStore
from storydedup.store.redis_chrome import RedisChromeState, cluster_keys, single_redis_keys
from storydedup.store.redis_store import RedisStore
from storydedup.v1 import storydedup_pb2 as pb
from storydedup.v1 import storydedup_pb2_grpc as pb_grpc

from tests.support import articles, syndication
from tests.support.checks import assert_namespace_consistent
from tests.support.redis_cluster import LocalRedisCluster
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess

NAMESPACE = "concurrency"
CLIENTS = 32
ROUNDS = 50
SAME_ID_CLIENTS = 8
SAME_ID_ROUNDS = 6
CALL_TIMEOUT = 60.0
DAY_MS = 86_400_000.0

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Backend:
    url: str
    cluster: bool

    def store(self) -> IndexStore:
        if self.cluster:
            return RedisClusterStore.from_url(self.url, NAMESPACE, MatchPolicy())
        return RedisStore.from_url(self.url, NAMESPACE, MatchPolicy())

    def chrome(self) -> tuple[ChromeState, Redis | RedisCluster]:
        """The servers' learned chrome, read from where they keep it, and
        the connection to close afterwards."""
        if self.cluster:
            cluster_client = RedisCluster.from_url(self.url)
            keys = cluster_keys(NAMESPACE)
            return RedisChromeState(cluster_client, keys, DAY_MS), cluster_client
        client = Redis.from_url(self.url)
        return RedisChromeState(client, single_redis_keys(NAMESPACE), DAY_MS), client

    def assert_consistent(self) -> None:
        assert_namespace_consistent(self.url, NAMESPACE, self.cluster)


@pytest.fixture(scope="module", params=["redis", "cluster"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "cluster":
        cluster: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        yield Backend(cluster.url, cluster=True)
        return
    server = RedisServer().start()
    yield Backend(server.url, cluster=False)
    server.cleanup()


@pytest.fixture(scope="module")
def two_servers(backend: Backend) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {
        "STORYDEDUP_REDIS_URL": backend.url,
        "STORYDEDUP_REDIS_CLUSTER": str(backend.cluster),
        "STORYDEDUP_NAMESPACE": NAMESPACE,
        "STORYDEDUP_LOG_LEVEL": "WARNING",
    }
    first = ServerProcess(env)
    second = ServerProcess(env)
    try:
        with ThreadPoolExecutor(2) as starting:
            list(starting.map(ServerProcess.start, (first, second)))
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.fixture
async def stubs(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> AsyncIterator[list[pb_grpc.StoryDedupServiceStub]]:
    """One channel per client, alternating between the two servers, all
    connected before the test starts so that a release is simultaneous."""
    channels = [grpc.aio.insecure_channel(two_servers[i % 2].target) for i in range(CLIENTS)]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.channel_ready() for c in channels)), 30)
        yield [pb_grpc.StoryDedupServiceStub(c) for c in channels]
    finally:
        await asyncio.gather(*(c.close() for c in channels))


async def released_together(
    stubs: list[pb_grpc.StoryDedupServiceStub], requests: list[pb.IngestArticleRequest]
) -> list[pb.IngestArticleResponse]:
    """Client i sends requests[i]; all wait on one event, then go at once."""
    go = asyncio.Event()
    waiting = 0

    async def client(
        stub: pb_grpc.StoryDedupServiceStub, request: pb.IngestArticleRequest
    ) -> pb.IngestArticleResponse:
        nonlocal waiting
        waiting += 1
        await go.wait()
        response: pb.IngestArticleResponse = await stub.IngestArticle(request, timeout=CALL_TIMEOUT)
        return response

    tasks = [
        asyncio.create_task(client(stub, request))
        for stub, request in zip(stubs, requests, strict=True)
    ]
    for _ in range(100):
        if waiting == len(tasks):
            break
        await asyncio.sleep(0)
    assert waiting == len(tasks), "not every client reached the barrier"
    go.set()
    return list(await asyncio.gather(*tasks))


_fingerprinter = Fingerprinter(FingerprintSettings())


async def all_pairs_match(backend: Backend, requests: list[pb.IngestArticleRequest]) -> bool:
    """Whether every copy is verified as a copy of every other one, as the
    servers fingerprint them: cleaned with the chrome they have learned."""
    chrome, connection = backend.chrome()
    try:
        dedup = Deduplicator(MemoryStore(MatchPolicy()), _fingerprinter, chrome_state=chrome)
        prepared = [dedup.prepare(r.article, "article") for r in requests]
        probes = [p.item.probe for p in await dedup.with_current_chrome(prepared)]
    finally:
        await connection.aclose()
    policy = MatchPolicy()
    return all(
        is_match(
            policy,
            compare(a.signature, b.signature, a.shingle_count, b.shingle_count, a.prefix, b.prefix),
            a.shingle_count,
            b.shingle_count,
        )
        for a, b in itertools.combinations(probes, 2)
    )


async def members_unless_merged(
    stub: pb_grpc.StoryDedupServiceStub, cluster_id: str
) -> list[str] | None:
    """The members of a cluster, or None when it was merged into another."""
    try:
        found = await stub.GetCluster(
            pb.GetClusterRequest(cluster_id=cluster_id), timeout=CALL_TIMEOUT
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return [m.article_id for m in found.cluster.members]


async def test_simultaneous_copies_of_a_story_end_in_one_cluster(
    stubs: list[pb_grpc.StoryDedupServiceStub], backend: Backend
) -> None:
    store = backend.store()
    try:
        for round_number in range(ROUNDS):
            seed = 90_000 + round_number
            paragraphs = articles.story(seed, paragraphs=8)
            ids = [f"r{round_number}-outlet{i}" for i in range(CLIENTS)]
            requests = [
                pb.IngestArticleRequest(
                    article=syndication.copy_article(ids[i], paragraphs, outlet=i, seed=seed)
                )
                for i in range(CLIENTS)
            ]
            results = await released_together(stubs, requests)
            assert [r.article_id for r in results] == ids

            # After the round, through both servers: where each copy is now.
            infos = await asyncio.gather(
                *(
                    stubs[i].GetArticle(
                        pb.GetArticleRequest(article_id=ids[i]), timeout=CALL_TIMEOUT
                    )
                    for i in range(CLIENTS)
                )
            )
            cluster = (
                await stubs[round_number % 2].GetCluster(
                    pb.GetClusterRequest(article_id=ids[0]), timeout=CALL_TIMEOUT
                )
            ).cluster
            answered = sorted({r.cluster_id for r in results})
            if await all_pairs_match(backend, requests):
                # One cluster holding all 32, which every call answered: the
                # first one in founded it (the one non-duplicate), the 31
                # others joined it, none raced into a cluster of its own that
                # a later copy had to merge.
                assert cluster.size == CLIENTS, f"round {round_number}: cluster of {cluster.size}"
                assert sorted(m.article_id for m in cluster.members) == sorted(ids)
                assert {info.cluster_id for info in infos} == {cluster.cluster_id}
                assert answered == [cluster.cluster_id], f"round {round_number}: {answered}"
                assert sum(not r.duplicate for r in results) == 1
            else:
                # Some copies are not copies of each other (a short truncated
                # copy and an edited copy whose edits change its start): the
                # ones that come first found clusters that the other kind does
                # not join, as in any order of arrival. A later copy merges
                # them when it is a near-full copy of a member of each, which
                # a full copy is not of a short truncated one, so they may
                # stay apart (docs/matching.md, "Known limits"). What must
                # hold in any order: every answered cluster is merged away or
                # still holds its copies, and together they hold all 32.
                surviving: dict[str, list[str]] = {}
                for answer in answered:
                    members = await members_unless_merged(stubs[0], answer)
                    if members is not None:
                        surviving[answer] = members
                assert sorted(a for members in surviving.values() for a in members) == sorted(ids)
                assert {info.cluster_id for info in infos} == set(surviving)
                assert sum(not r.duplicate for r in results) == len(answered)
            assert cluster.canonical_article_id in {r.canonical_article_id for r in results}
            if round_number % 10 == 9:
                # The checker's own code, in process: the CLI is run below.
                assert await store.check() == [], f"after round {round_number}"
    finally:
        await store.close()
    await asyncio.to_thread(backend.assert_consistent)


@pytest.mark.parametrize("same_content", [True, False], ids=["same-content", "edited-content"])
async def test_one_article_id_sent_by_many_clients_at_once_is_one_record(
    stubs: list[pb_grpc.StoryDedupServiceStub], backend: Backend, same_content: bool
) -> None:
    for round_number in range(SAME_ID_ROUNDS):
        seed = 95_000 + 100 * same_content + round_number
        paragraphs = articles.story(seed, paragraphs=8)
        # Two other copies already form the story's cluster.
        others = [f"same-{seed}-other{i}" for i in range(2)]
        for outlet, other in enumerate(others):
            await stubs[0].IngestArticle(
                pb.IngestArticleRequest(
                    article=syndication.copy_article(other, paragraphs, outlet + 2, seed)
                ),
                timeout=CALL_TIMEOUT,
            )
        article_id = f"same-{seed}"
        requests = [
            pb.IngestArticleRequest(
                article=syndication.copy_article(
                    article_id, paragraphs, 0 if same_content else 4 * i, seed
                )
            )
            for i in range(SAME_ID_CLIENTS)
        ]
        results = await released_together(stubs[:SAME_ID_CLIENTS], requests)
        assert all(r.article_id == article_id for r in results)
        if same_content:
            # One write and seven retries of it, all with the same answer.
            assert len({r.SerializeToString(deterministic=True) for r in results}) == 1

        info = await stubs[1].GetArticle(
            pb.GetArticleRequest(article_id=article_id), timeout=CALL_TIMEOUT
        )
        cluster = (
            await stubs[1].GetCluster(
                pb.GetClusterRequest(article_id=article_id), timeout=CALL_TIMEOUT
            )
        ).cluster
        member_ids = [m.article_id for m in cluster.members]
        assert member_ids.count(article_id) == 1
        assert sorted(member_ids) == sorted([*others, article_id])
        assert info.cluster_id == cluster.cluster_id
        # The record kept is the content of one of the calls.
        assert info.article.url in {r.article.url for r in requests}
    await asyncio.to_thread(backend.assert_consistent)
