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
    # Why an ingest call's articles were refused, in the refused-articles
    # metric (metrics.ARTICLES_REFUSED).
    reason = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ApiError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "invalid"


class NoStoryText(InvalidArgument):
    """Nothing of the article reads as story text."""

    reason = "no_story_text"


class TooLarge(ApiError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "too_large"


class StoreFull(ApiError):
    """Redis refuses writes at its maxmemory; reads go on."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "store_full"


class NotFound(ApiError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "not_found"


class OutOfRange(ApiError):
    """A resume point or page token past what the store still keeps."""

    code = grpc.StatusCode.OUT_OF_RANGE


class Unavailable(ApiError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "unavailable"


class Internal(ApiError):
    """A bug: the status says no more than that (no exception text or class
    name, which may hold request data); the server log has the traceback."""

    code = grpc.StatusCode.INTERNAL
    reason = "internal"


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
