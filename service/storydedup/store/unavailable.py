"""Which redis-py errors mean the store cannot serve right now (retryable,
UNAVAILABLE to callers) rather than a bug, for every Redis adapter."""

from __future__ import annotations

from redis import exceptions as redis_errors

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
