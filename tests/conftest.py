from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from storydedup.clustering.policy import MatchPolicy
from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings
from storydedup.store.base import IndexStore
from storydedup.store.memory import MemoryStore
from storydedup.store.redis_store import RedisStore
from tests.support.redis_server import MISSING_BINARY, RedisServer

_namespaces = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    if shutil.which("redis-server") is None:
        raise pytest.UsageError(MISSING_BINARY)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session; tests keep apart by namespace."""
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    return f"t{next(_namespaces)}-{request.node.name[:40]}".replace("[", "-").replace("]", "")


@pytest.fixture(scope="session")
def fingerprinter() -> Fingerprinter:
    return Fingerprinter(FingerprintSettings())


@pytest.fixture(params=["memory", "redis"])
async def store(
    request: pytest.FixtureRequest, redis_server: RedisServer, namespace: str,
    fingerprinter: Fingerprinter,
) -> AsyncIterator[IndexStore]:
    """Each store adapter in turn: the contract tests run against both."""
    policy = MatchPolicy()
    made: IndexStore
    if request.param == "memory":
        made = MemoryStore(policy)
    else:
        made = RedisStore.from_url(redis_server.url, namespace, policy)
    await made.open(fingerprinter.settings.store_settings())
    yield made
    await made.close()
