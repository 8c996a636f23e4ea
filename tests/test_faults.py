"""Faults, each against real processes: Redis absent at start-up, Redis
killed under load, the server killed in the middle of batches, SIGTERM with
calls in flight, and acknowledged writes across a Redis crash. After each,
`storydedup-admin check` must find nothing wrong."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from storydedup.store.base import StoreUnavailableError
from storydedup.store.redis_store import key_prefix
from storydedup.store.unavailable import REDIS_UNAVAILABLE, unavailable_on
from storydedup.v1 import storydedup_pb2 as pb
from storydedup.v1 import storydedup_pb2_grpc as pb_grpc

from tests.support import articles, syndication
from tests.support.checks import assert_namespace_consistent
from tests.support.redis_server import RedisServer, free_port
from tests.support.server_process import ServerProcess

CALL_TIMEOUT = 30.0
SERVICE = "storydedup.v1.StoryDedupService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_aof() -> Iterator[RedisServer]:
    """A Redis of its own that persists every write before acknowledging it."""
    server = RedisServer(appendonly=True, appendfsync="always").start()
    yield server
    server.cleanup()


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    """Server processes a test starts; all gone at its end, whatever happens."""
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.kill()


def start_server(
    processes: list[ServerProcess], redis_url: str, namespace: str, **env: str
) -> ServerProcess:
    server = ServerProcess(
        {"STORYDEDUP_REDIS_URL": redis_url, "STORYDEDUP_NAMESPACE": namespace, **env}
    )
    processes.append(server)
    return server


def story_copy(article_id: str, number: int) -> pb.Article:
    """Article `number` of a run: a new story every 4 articles, so that the
    index holds clusters of several copies."""
    seed = 70_000 + number // 4
    return syndication.copy_article(article_id, articles.story(seed, 6), number % 32, seed)


async def article_state(
    stub: pb_grpc.StoryDedupServiceStub, article_id: str
) -> pb.GetArticleResponse | None:
    """The article as the service shows it, None when it is unknown; when it
    is known, it must also be a member of the cluster it names."""
    try:
        info: pb.GetArticleResponse = await stub.GetArticle(
            pb.GetArticleRequest(article_id=article_id), timeout=CALL_TIMEOUT
        )
    except grpc.aio.AioRpcError as error:
        failure = error
    else:
        failure = None
    if failure is not None:
        assert failure.code() == grpc.StatusCode.NOT_FOUND, (failure.code(), failure.details())
        return None
    cluster = (
        await stub.GetCluster(pb.GetClusterRequest(article_id=article_id), timeout=CALL_TIMEOUT)
    ).cluster
    assert cluster.cluster_id == info.cluster_id
    assert article_id in [m.article_id for m in cluster.members]
    return info


async def states(
    stub: pb_grpc.StoryDedupServiceStub, ids: Sequence[str]
) -> dict[str, pb.GetArticleResponse | None]:
    found: dict[str, pb.GetArticleResponse | None] = {}
    for start in range(0, len(ids), 64):
        chunk = ids[start : start + 64]
        for article_id, state in zip(
            chunk, await asyncio.gather(*(article_state(stub, i) for i in chunk)), strict=True
        ):
            found[article_id] = state
    return found


# -- (a) Redis down at start-up -------------------------------------------


async def test_redis_down_at_start_up_then_up_without_restarting_the_server(
    processes: list[ServerProcess],
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = start_server(processes, url, "faults-startup")
    await asyncio.to_thread(server.start, wait_serving=False)
    redis_server = RedisServer(port=port, appendonly=True)
    try:
        assert server.health() == "NOT_SERVING"
        async with grpc.aio.insecure_channel(server.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", SERVICE):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
                assert reply.status == NOT_SERVING
            stub = pb_grpc.StoryDedupServiceStub(channel)
            story = articles.story(31, 6)
            article = pb.Article(id="a", text=articles.text(story))
            calls = [
                stub.IngestArticle(pb.IngestArticleRequest(article=article), timeout=10),
                stub.IngestArticles(pb.IngestArticlesRequest(articles=[article]), timeout=10),
                stub.GetArticle(pb.GetArticleRequest(article_id="a"), timeout=10),
                stub.GetCluster(pb.GetClusterRequest(cluster_id="c1"), timeout=10),
                stub.FindSimilar(pb.FindSimilarRequest(article=article), timeout=10),
                stub.DeleteArticle(pb.DeleteArticleRequest(article_id="a"), timeout=10),
            ]
            for call in calls:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
                assert "retry" in (caught.value.details() or "")
            stream = stub.StreamIngestArticles(
                iter([pb.StreamIngestArticlesRequest(article=article)] * 3), timeout=10
            )
            with pytest.raises(grpc.aio.AioRpcError) as streamed:
                async for _ in stream:
                    pass
            assert streamed.value.code() == grpc.StatusCode.UNAVAILABLE

            await asyncio.to_thread(redis_server.start)
            await asyncio.to_thread(server.wait_health, "SERVING", 30)
            assert server.process is not None and server.process.poll() is None
            first = await stub.IngestArticle(pb.IngestArticleRequest(article=article))
            copy = pb.Article(id="b", text=syndication.page(story[:4], 1, 31))
            second = await stub.IngestArticle(pb.IngestArticleRequest(article=copy))
            assert not first.duplicate and second.duplicate
            assert second.cluster_id == first.cluster_id
            cluster = await stub.GetCluster(pb.GetClusterRequest(article_id="b"))
            assert [m.article_id for m in cluster.cluster.members] == ["a", "b"]
        assert "index store unreachable" in server.log()
        assert "index store reachable: serving" in server.log()
        await asyncio.to_thread(assert_namespace_consistent, url, "faults-startup")
    finally:
        server.stop()
        redis_server.cleanup()
    assert server.process is not None and server.process.returncode == 0


# -- load for the Redis crash scenarios ------------------------------------


@dataclass
class Load:
    """What concurrent ingesting clients saw."""

    acknowledged: set[str] = field(default_factory=set)
    sent: set[str] = field(default_factory=set)
    failures: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)
    calls: int = 0
    # Set when the server reports SERVING again after an outage: calls made
    # from then on must succeed.
    recovered_at: float | None = None
    after_recovery: list[str] = field(default_factory=list)

    def fail(self, error: grpc.aio.AioRpcError, method: str, started: float) -> None:
        self.failures[error.code().name] += 1
        detail = f"{method} {error.code().name}: {error.details()}"
        if len(self.details) < 20 or error.code() != grpc.StatusCode.UNAVAILABLE:
            self.details.append(detail)
        if self.recovered_at is not None and started >= self.recovered_at:
            self.after_recovery.append(detail)


async def ingest_load(target: str, prefix: str, stop: asyncio.Event, load: Load) -> None:
    """12 clients, each on its own channel, ingesting by all three methods in
    turn until `stop` (or a bound on the calls) is reached."""
    numbers = itertools.count()

    async def client(index: int) -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.StoryDedupServiceStub(channel)
            for turn in range(2000):
                if stop.is_set():
                    return
                batch = [
                    story_copy(f"{prefix}-{n}", n)
                    for n in itertools.islice(numbers, 1 if turn % 3 == 0 else 4)
                ]
                ids = [a.id for a in batch]
                load.sent.update(ids)
                load.calls += 1
                started = time.monotonic()
                try:
                    if turn % 3 == 0:
                        reply = await stub.IngestArticle(
                            pb.IngestArticleRequest(article=batch[0]), timeout=CALL_TIMEOUT
                        )
                        answered = [reply.article_id]
                    elif turn % 3 == 1:
                        replies = await stub.IngestArticles(
                            pb.IngestArticlesRequest(articles=batch), timeout=CALL_TIMEOUT
                        )
                        answered = [r.article_id for r in replies.results]
                    else:
                        stream = stub.StreamIngestArticles(
                            iter([pb.StreamIngestArticlesRequest(article=a) for a in batch]),
                            timeout=CALL_TIMEOUT,
                        )
                        answered = []
                        async for response in stream:
                            # Acknowledged one by one: an answer is a promise.
                            answered.append(response.result.article_id)
                            load.acknowledged.add(response.result.article_id)
                    assert answered == ids
                    load.acknowledged.update(answered)
                except grpc.aio.AioRpcError as error:
                    method = ("IngestArticle", "IngestArticles", "StreamIngestArticles")[turn % 3]
                    load.fail(error, method, started)
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(client(i) for i in range(12)))


async def until(condition: Callable[[], bool], what: str, within_s: float = 60.0) -> None:
    """Waits (at most `within_s`) for `condition`, letting the load run."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within_s}s: {what}")
        await asyncio.sleep(0.02)


# -- (b) Redis killed under load ---------------------------------------------


async def test_redis_killed_under_load_gives_unavailable_then_recovers(
    redis_aof: RedisServer, processes: list[ServerProcess]
) -> None:
    namespace = "faults-redis-kill"
    server = start_server(processes, redis_aof.url, namespace)
    await asyncio.to_thread(server.start)
    pid = server.pid
    load = Load()
    stop = asyncio.Event()
    running = asyncio.create_task(ingest_load(server.target, "k", stop, load))
    try:
        await until(lambda: len(load.acknowledged) >= 150, "150 articles acknowledged")
        await asyncio.to_thread(redis_aof.kill)
        # Redis stays down for a while under the same load.
        await asyncio.sleep(2.0)
        await until(lambda: load.failures["UNAVAILABLE"] >= 10, "calls failing UNAVAILABLE")
        await asyncio.to_thread(server.wait_health, "NOT_SERVING", 30)
        before_restart = len(load.acknowledged)
        await asyncio.to_thread(redis_aof.start)
        # The same process serves again, without a restart.
        await asyncio.to_thread(server.wait_health, "SERVING", 30)
        load.recovered_at = time.monotonic()
        await until(
            lambda: len(load.acknowledged) >= before_restart + 150,
            "150 more articles acknowledged after the restart",
        )
    finally:
        stop.set()
        await running
    assert server.pid == pid and server.process is not None and server.process.poll() is None
    # Every failure was UNAVAILABLE (retryable), never UNKNOWN or INTERNAL.
    assert set(load.failures) == {"UNAVAILABLE"}, (load.failures, load.details)
    # Once it says SERVING again, it serves: no call fails on a connection
    # to the Redis that was killed.
    assert not load.after_recovery, load.after_recovery[:5]
    assert "unexpected failure" not in server.full_log()
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.StoryDedupServiceStub(channel)
        sample = sorted(load.acknowledged)[:: max(1, len(load.acknowledged) // 100)]
        assert all(state is not None for state in (await states(stub, sample)).values())
    server.stop()
    assert server.process.returncode == 0
    await asyncio.to_thread(assert_namespace_consistent, redis_aof.url, namespace)


# -- (e) acknowledged writes survive a Redis crash -------------------------


async def test_every_acknowledged_article_survives_a_redis_crash(
    redis_aof: RedisServer, processes: list[ServerProcess]
) -> None:
    namespace = "faults-durable"
    server = start_server(processes, redis_aof.url, namespace)
    await asyncio.to_thread(server.start)
    load = Load()
    stop = asyncio.Event()
    running = asyncio.create_task(ingest_load(server.target, "d", stop, load))
    try:
        await until(lambda: len(load.acknowledged) >= 300, "300 articles acknowledged")
        # SIGKILL in the middle of the load: no chance to flush anything more.
        await asyncio.to_thread(redis_aof.kill)
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await running
    acknowledged = set(load.acknowledged)
    assert load.failures["UNAVAILABLE"] > 0, "the crash did not hit any call"
    await asyncio.to_thread(redis_aof.start)  # same port, same directory
    await asyncio.to_thread(server.wait_health, "SERVING", 30)
    async with grpc.aio.insecure_channel(server.target) as channel:
        found = await states(pb_grpc.StoryDedupServiceStub(channel), sorted(load.sent))
    lost = sorted(acknowledged - {i for i, state in found.items() if state is not None})
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged articles lost: {lost[:10]}"
    server.stop()
    await asyncio.to_thread(assert_namespace_consistent, redis_aof.url, namespace)


# -- (c) the server killed in the middle of batches --------------------------


async def test_server_killed_mid_batch_leaves_each_article_whole_or_absent(
    redis_server: RedisServer, processes: list[ServerProcess], namespace: str
) -> None:
    batch_size, batches_per_client, clients = 120, 3, 4
    server = start_server(processes, redis_server.url, namespace)
    await asyncio.to_thread(server.start)
    batches = [
        [
            story_copy(f"c{client}-b{b}-{i}", (client * batches_per_client + b) * batch_size + i)
            for i in range(batch_size)
        ]
        for client in range(clients)
        for b in range(batches_per_client)
    ]
    outcomes: dict[int, str] = {}

    async def client(index: int) -> None:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.StoryDedupServiceStub(channel)
            for b in range(batches_per_client):
                number = index * batches_per_client + b
                try:
                    await stub.IngestArticles(
                        pb.IngestArticlesRequest(articles=batches[number]), timeout=CALL_TIMEOUT
                    )
                    outcomes[number] = "OK"
                except grpc.aio.AioRpcError as error:
                    outcomes[number] = error.code().name
                    return

    # Article numbers handed out so far: each new article takes the next.
    counter_key = key_prefix(namespace) + "n"
    total = batch_size * len(batches)
    redis_client = aioredis.Redis.from_url(redis_server.url)
    try:
        running = asyncio.gather(*(client(i) for i in range(clients)))
        # Kill while Redis is in the middle of writing the second round of
        # batches: some are done, one is being written, the rest are not.
        deadline = time.monotonic() + 60
        kill_at = clients * batch_size + batch_size // 3
        while int(await redis_client.get(counter_key) or 0) < kill_at:
            assert time.monotonic() < deadline, "batches were not written"
            await asyncio.sleep(0.0005)
        server.kill()
        at_kill = int(await redis_client.get(counter_key) or 0)
        await running
    finally:
        await redis_client.aclose()
    assert set(outcomes.values()) <= {"OK", "UNAVAILABLE"}, outcomes
    assert 0 < at_kill < total

    # A new server process on the same namespace shows what was written.
    after = start_server(processes, redis_server.url, namespace)
    await asyncio.to_thread(after.start)
    async with grpc.aio.insecure_channel(after.target) as channel:
        stub = pb_grpc.StoryDedupServiceStub(channel)
        found = await states(stub, [a.id for batch in batches for a in batch])
        # Whole: what is there is findable by its content, too.
        present = [a for batch in batches for a in batch if found[a.id] is not None]
        for article in present[:: max(1, len(present) // 25)]:
            similar = await stub.FindSimilar(
                pb.FindSimilarRequest(article=pb.Article(text=article.text), limit=50)
            )
            assert article.id in [m.article_id for m in similar.matches]
    per_batch = [sum(found[a.id] is not None for a in batch) for batch in batches]
    for number, count in enumerate(per_batch):
        if outcomes.get(number) == "OK":
            assert count == batch_size, f"acknowledged batch {number} has {count} articles"
    assert 0 < sum(per_batch) < total
    after.stop()
    await asyncio.to_thread(assert_namespace_consistent, redis_server.url, namespace)


# -- (d) SIGTERM with slow calls in flight -----------------------------------


async def test_sigterm_lets_calls_in_flight_finish_and_exits_zero(
    redis_server: RedisServer, processes: list[ServerProcess], namespace: str
) -> None:
    server = start_server(
        processes, redis_server.url, namespace, STORYDEDUP_SHUTDOWN_GRACE_SECONDS="60"
    )
    await asyncio.to_thread(server.start)
    batch_size = 400
    batches = [
        [story_copy(f"t{b}-{i}", b * batch_size + i) for i in range(batch_size)] for b in range(3)
    ]
    streamed = [story_copy(f"s-{i}", 10_000 + i) for i in range(6)]
    channels = [grpc.aio.insecure_channel(server.target) for _ in range(5)]
    try:
        await asyncio.gather(*(c.channel_ready() for c in channels))
        stubs = [pb_grpc.StoryDedupServiceStub(c) for c in channels]

        # Health, watched from before the signal.
        statuses: list[tuple[float, int]] = []
        watch = health_pb2_grpc.HealthStub(channels[4]).Watch(
            health_pb2.HealthCheckRequest(service="")
        )

        async def watcher() -> None:
            async for reply in watch:
                statuses.append((time.monotonic(), reply.status))
                if reply.status == NOT_SERVING:
                    # An open Watch would hold the shutdown for the whole grace period.
                    watch.cancel()
                    return

        watching = asyncio.create_task(watcher())
        await until(lambda: bool(statuses), "a first health status")
        assert statuses[0][1] == SERVING

        # A stream in flight: one article sent and answered before the signal.
        outgoing: asyncio.Queue[pb.StreamIngestArticlesRequest | None] = asyncio.Queue()

        async def stream_requests() -> AsyncIterator[pb.StreamIngestArticlesRequest]:
            while (request := await outgoing.get()) is not None:
                yield request

        stream = stubs[3].StreamIngestArticles(stream_requests(), timeout=120)
        await outgoing.put(pb.StreamIngestArticlesRequest(article=streamed[0]))
        first_streamed = await stream.read()
        assert isinstance(first_streamed, pb.StreamIngestArticlesResponse)

        # Three large batches, each a few seconds of work for the server.
        async def ingest(
            stub: pb_grpc.StoryDedupServiceStub, batch: list[pb.Article]
        ) -> pb.IngestArticlesResponse:
            reply: pb.IngestArticlesResponse = await stub.IngestArticles(
                pb.IngestArticlesRequest(articles=batch), timeout=120
            )
            return reply

        calls = [asyncio.create_task(ingest(stubs[b], batch)) for b, batch in enumerate(batches)]
        await asyncio.sleep(0.2)
        assert not any(call.done() for call in calls), "batches finished before the signal"
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)

        # The stream goes on during the grace period.
        for article in streamed[1:]:
            await outgoing.put(pb.StreamIngestArticlesRequest(article=article))
        await outgoing.put(None)
        rest = []
        for _ in streamed:
            response = await stream.read()
            if response is grpc.aio.EOF:
                break
            rest.append(response)
        replies = await asyncio.gather(*calls)
        await asyncio.wait_for(watching, 60)
        exit_code = await asyncio.to_thread(server.wait, 60)
    finally:
        await asyncio.gather(*(c.close() for c in channels))

    for batch, reply in zip(batches, replies, strict=True):
        assert [r.article_id for r in reply.results] == [a.id for a in batch]
    assert [first_streamed.result.article_id] + [r.result.article_id for r in rest] == [
        a.id for a in streamed
    ]
    # NOT_SERVING was announced after the signal, and while still running.
    assert statuses[-1][1] == NOT_SERVING and statuses[-1][0] >= signalled
    assert all(status == SERVING for _, status in statuses[:-1])
    assert exit_code == 0, server.log()
    assert "shutting down" in server.log() and "stopped" in server.log()
    # Everything answered is in the index.
    redis_client = aioredis.Redis.from_url(redis_server.url)
    try:
        records = redis_client.scan_iter(match=key_prefix(namespace) + "a:*", count=1000)
        indexed = len([key async for key in records])
    finally:
        await redis_client.aclose()
    assert indexed == 3 * batch_size + len(streamed)
    await asyncio.to_thread(assert_namespace_consistent, redis_server.url, namespace)


def _raise_from(filename: str) -> None:
    # Code that runs as if it were the module at `filename`: where the error is raised is
    # what tells a torn-down transport from a bug.
    namespace: dict[str, Any] = {}
    exec(compile("def write(writer):\n    writer.writelines([b''])\n", filename, "exec"), namespace)
    namespace["write"](None)


def test_a_write_on_a_torn_down_connection_is_unavailable_and_a_bug_is_not() -> None:
    # What a failed-over master's connection raises inside redis-py (redis/redis-py#4287).
    with pytest.raises(StoreUnavailableError, match="connection closed under a write"):
        with unavailable_on(REDIS_UNAVAILABLE, "Redis"):
            _raise_from("/venv/lib/python3.11/site-packages/redis/asyncio/connection.py")
    # The same error from anywhere else is a bug and goes through.
    with pytest.raises(AttributeError):
        with unavailable_on(REDIS_UNAVAILABLE, "Redis"):
            _raise_from("/srv/storydedup/store/redis_store.py")
