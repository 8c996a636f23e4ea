"""Which redis-py errors mean the store cannot serve right now (retryable,
UNAVAILABLE to callers) or is full (RESOURCE_EXHAUSTED), rather than a bug,
for every Redis adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis import exceptions as redis_errors

from storydedup import metrics
from storydedup.store.base import StoreFullError, StoreUnavailableError

REDIS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    OSError,
)
# A Redis Cluster also fails over (a replica without its master) and can
# lose its slot map for a moment.
CLUSTER_UNAVAILABLE: tuple[type[BaseException], ...] = (
    *REDIS_UNAVAILABLE,
    redis_errors.MasterDownError,
    redis_errors.RedisClusterException,
)


# Where a write to a connection the peer closed (a failed-over master, a
# reset idle connection) breaks inside asyncio's transport or redis-py's
# connection: there it surfaces as AttributeError or TypeError ("'NoneType'
# object has no attribute 'writelines'"), not as a ConnectionError, and
# escapes redis-py's retries (redis/redis-py#4287).
_TRANSPORT_MODULES = (
    "/asyncio/streams.py",
    "/asyncio/selector_events.py",
    "/asyncio/transports.py",
    "/redis/asyncio/connection.py",
)


def _torn_down_transport(error: BaseException) -> bool:
    """Whether an AttributeError or TypeError was raised by a connection's
    transport being torn down under a write, not by our code."""
    if not isinstance(error, (AttributeError, TypeError)):
        return False
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return False
    return frame.tb_frame.f_code.co_filename.replace("\\", "/").endswith(_TRANSPORT_MODULES)


# What a status message says of each error: words an operator reads, not
# a Python class name. The first entry the error is an instance of wins.
_DESCRIPTIONS: tuple[tuple[type[BaseException], str], ...] = (
    (redis_errors.BusyLoadingError, "loading its data set"),
    (redis_errors.TryAgainError, "a slot is moving between nodes"),
    (redis_errors.MasterDownError, "a master is down"),
    (redis_errors.ClusterDownError, "the cluster is down"),
    (redis_errors.TimeoutError, "timed out"),
    (redis_errors.RedisClusterException, "the cluster is not reachable"),
    (redis_errors.ConnectionError, "connection failed"),
    (OSError, "connection failed"),
)

FULL_MESSAGE = (
    "at its maxmemory limit and refusing new articles; raise maxmemory or shorten "
    "the retention window (--retention-days); lookups still work"
)


def describe(error: BaseException) -> str:
    for kind, words in _DESCRIPTIONS:
        if isinstance(error, kind):
            return words
    return "failed"


@contextmanager
def unavailable_on(errors: tuple[type[BaseException], ...], what: str) -> Iterator[None]:
    """Raises StoreFullError when Redis refuses a write for its memory
    limit, StoreUnavailableError for `errors` and for a torn-down transport;
    anything else goes through as the bug it is. Counts each in the store
    error metric."""
    try:
        yield
    except redis_errors.OutOfMemoryError as error:
        metrics.STORE_ERRORS.labels(kind="full").inc()
        raise StoreFullError(f"{what}: {FULL_MESSAGE}") from error
    except errors as error:
        metrics.STORE_ERRORS.labels(kind="unavailable").inc()
        raise StoreUnavailableError(f"{what} unavailable: {describe(error)}") from error
    except (AttributeError, TypeError) as error:
        if _torn_down_transport(error):
            metrics.STORE_ERRORS.labels(kind="unavailable").inc()
            raise StoreUnavailableError(
                f"{what} unavailable: connection closed under a write"
            ) from error
        raise
