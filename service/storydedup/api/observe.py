"""One server interceptor for every call: the gRPC server metrics
(grpc_server_started_total, grpc_server_handled_total,
grpc_server_handling_seconds, as go-grpc-prometheus names and labels them)
and the call's method and peer for its log lines (logs.CURRENT_CALL).

It wraps the handler's behaviour rather than acting in intercept_service:
the behaviour runs in the call's own task, where the log context must be
set, and only it sees the status the call ends with.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc

from storydedup import metrics
from storydedup.logs import CURRENT_CALL, CallInfo

Behaviour = Callable[..., Any]


def _code_name(context: grpc.aio.ServicerContext, failed: bool) -> str:
    """The status the call ends with: what abort() or set_code() set, else
    OK, or UNKNOWN for an exception that escaped the handler (which grpc
    answers with UNKNOWN)."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    if isinstance(code, int):
        for member in grpc.StatusCode:
            if member.value[0] == code:
                return str(member.name)
    return "UNKNOWN" if failed else "OK"


class _Call:
    """Bookkeeping of one call: metrics at its start and end, log context
    in between."""

    __slots__ = ("_labels", "_method", "_started", "_token")

    def __init__(self, labels: tuple[str, str, str], method: str) -> None:
        self._labels = labels
        self._method = method
        self._started = 0.0
        self._token: Any = None

    def start(self, context: grpc.aio.ServicerContext) -> None:
        metrics.GRPC_STARTED.labels(*self._labels).inc()
        self._token = CURRENT_CALL.set(CallInfo(self._method, context.peer()))
        self._started = time.perf_counter()

    def end(self, context: grpc.aio.ServicerContext, failed: bool, cancelled: bool) -> None:
        elapsed = time.perf_counter() - self._started
        code = "CANCELLED" if cancelled else _code_name(context, failed)
        metrics.GRPC_HANDLED.labels(*self._labels, code).inc()
        metrics.GRPC_HANDLING_SECONDS.labels(*self._labels).observe(elapsed)
        CURRENT_CALL.reset(self._token)


@contextlib.contextmanager
def _observing(
    labels: tuple[str, str, str], method: str, context: grpc.aio.ServicerContext
) -> Iterator[None]:
    """One call observed from start to end, whichever way it ends."""
    call = _Call(labels, method)
    call.start(context)
    failed = cancelled = False
    try:
        yield
    except asyncio.CancelledError:
        cancelled = True
        raise
    except BaseException:
        failed = True
        raise
    finally:
        call.end(context, failed, cancelled)


def _awaited(behaviour: Behaviour, labels: tuple[str, str, str], method: str) -> Behaviour:
    async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
        with _observing(labels, method, context):
            return await behaviour(request, context)

    return observed


def _stream_response(behaviour: Behaviour, labels: tuple[str, str, str], method: str) -> Behaviour:
    async def observed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        with _observing(labels, method, context):
            async for response in behaviour(request, context):
                yield response

    return observed


_KINDS = {
    (False, False): ("unary", grpc.unary_unary_rpc_method_handler, "unary_unary"),
    (False, True): ("server_stream", grpc.unary_stream_rpc_method_handler, "unary_stream"),
    (True, False): ("client_stream", grpc.stream_unary_rpc_method_handler, "stream_unary"),
    (True, True): ("bidi_stream", grpc.stream_stream_rpc_method_handler, "stream_stream"),
}


class ObservingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None:
            return None  # unknown method: grpc answers UNIMPLEMENTED itself
        method: str = details.method
        service, _, name = method.lstrip("/").rpartition("/")
        grpc_type, make, attribute = _KINDS[handler.request_streaming, handler.response_streaming]
        labels = (grpc_type, service, name)
        behaviour = getattr(handler, attribute)
        # A streaming response is an async generator's yields or the
        # handler's own context.write() calls (grpc's health Watch): the
        # wrapper must be of the same kind.
        wrap = _stream_response if inspect.isasyncgenfunction(behaviour) else _awaited
        return make(
            wrap(behaviour, labels, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
