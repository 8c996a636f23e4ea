from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from storydedup.api.server import StoryDedupServer
from storydedup.clustering.policy import MatchPolicy
from storydedup.config import build_config
from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings
from storydedup.store.base import IndexStore
from storydedup.store.cluster_store import RedisClusterStore
from storydedup.store.memory import MemoryStore
from storydedup.store.redis_store import RedisStore
from storydedup_client import AsyncStoryDedupClient

from tests.support.prometheus import MISSING_PROMETHEUS
from tests.support.redis_cluster import LocalRedisCluster
from tests.support.redis_server import MISSING_BINARY, RedisServer

_namespaces = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    if shutil.which("redis-server") is None:
        raise pytest.UsageError(MISSING_BINARY)
    if shutil.which("prometheus") is None:
        raise pytest.UsageError(MISSING_PROMETHEUS)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session; tests keep apart by namespace."""
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """One real local Redis Cluster (3 masters, 3 replicas) for the session;
    tests keep apart by namespace. Tests that stop nodes make their own."""
    cluster = LocalRedisCluster().start()
    yield cluster
    cluster.cleanup()


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    return f"t{next(_namespaces)}-{request.node.name[:40]}".replace("[", "-").replace("]", "")


@pytest.fixture(scope="session")
def fingerprinter() -> Fingerprinter:
    return Fingerprinter(FingerprintSettings())


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(
    request: pytest.FixtureRequest,
    namespace: str,
    fingerprinter: Fingerprinter,
) -> AsyncIterator[IndexStore]:
    """Each store adapter in turn: the contract tests run against all."""
    policy = MatchPolicy()
    made: IndexStore
    if request.param == "memory":
        made = MemoryStore(policy)
    elif request.param == "redis":
        redis_server: RedisServer = request.getfixturevalue("redis_server")
        made = RedisStore.from_url(redis_server.url, namespace, policy)
    else:
        cluster: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        made = RedisClusterStore.from_url(cluster.url, namespace, policy)
    await made.open(fingerprinter.settings.store_settings())
    yield made
    await made.close()


@pytest.fixture(params=["memory", "redis", "cluster"])
async def server(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[StoryDedupServer]:
    """A real gRPC server on a free port, on each store in turn."""
    raw = {"port": "0", "namespace": namespace}
    if request.param == "redis":
        raw["redis_url"] = request.getfixturevalue("redis_server").url
    elif request.param == "cluster":
        raw["redis_url"] = request.getfixturevalue("redis_cluster").url
        raw["redis_cluster"] = "true"
    async with running_server(raw) as running:
        yield running


@contextlib.asynccontextmanager
async def running_server(raw: dict[str, str]) -> AsyncIterator[StoryDedupServer]:
    """An in-process server with these settings, serving until the block ends."""
    running = StoryDedupServer(build_config(raw))
    await running.start()
    try:
        await wait_serving(running)
        yield running
    finally:
        await running.stop(grace=1.0)


async def wait_serving(running: StoryDedupServer, within_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not running.servicer.ready:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("server did not become ready")
        await asyncio.sleep(0.02)


@pytest.fixture
async def client(server: StoryDedupServer) -> AsyncIterator[AsyncStoryDedupClient]:
    async with AsyncStoryDedupClient(f"127.0.0.1:{server.port}", timeout=30) as made:
        yield made
