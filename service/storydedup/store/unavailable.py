"""Which redis-py errors mean the store cannot serve right now (retryable,
UNAVAILABLE to callers) rather than a bug, for every Redis adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis import exceptions as redis_errors

from storydedup.store.base import StoreUnavailableError

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


@contextmanager
def unavailable_on(errors: tuple[type[BaseException], ...], what: str) -> Iterator[None]:
    """Raises StoreUnavailableError for `errors` and for a torn-down
    transport; anything else goes through as the bug it is."""
    try:
        yield
    except errors as error:
        raise StoreUnavailableError(f"{what} unavailable: {type(error).__name__}") from error
    except (AttributeError, TypeError) as error:
        if _torn_down_transport(error):
            raise StoreUnavailableError(
                f"{what} unavailable: connection closed under a write"
            ) from error
        raise
