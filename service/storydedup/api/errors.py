"""Errors a call can end with, each mapped to one gRPC status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc


class ApiError(Exception):
    """A call's failure, with the status it ends with and a message that
    names the offending field."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ApiError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class TooLarge(ApiError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class NotFound(ApiError):
    code = grpc.StatusCode.NOT_FOUND


class OutOfRange(ApiError):
    """A resume point or page token past what the store still keeps."""

    code = grpc.StatusCode.OUT_OF_RANGE


class Unavailable(ApiError):
    code = grpc.StatusCode.UNAVAILABLE


# How long a stream that failed is read on before its status is sent.
DRAIN_SECONDS = 5.0


async def drain(requests: AsyncIterator[object], seconds: float = DRAIN_SECONDS) -> None:
    """Reads and drops the rest of a request stream (for up to `seconds`).

    A server that ends a stream while its client is still writing sends the
    right status, but grpc's asyncio client then reports INTERNAL "Internal
    error from Core" instead, most of the time (grpc/grpc#36066); this
    project's AsyncStoryDedupClient included. A failing stream call is
    therefore read to its end before it is aborted.
    """
    with contextlib.suppress(TimeoutError, grpc.RpcError):
        async with asyncio.timeout(seconds):
            async for _ in requests:
                pass
