"""Bearer-token authentication of calls (health checks stay open so that
load balancers and orchestrators can probe without the secret)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc

from storydedup.api.errors import drain

_OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


def _refuse(message: str) -> grpc.RpcMethodHandler:
    async def abort(request: object, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    return grpc.unary_unary_rpc_method_handler(abort)


def _refuse_stream(message: str) -> grpc.RpcMethodHandler:
    async def abort(requests: AsyncIterator[object], context: grpc.aio.ServicerContext) -> None:
        # Briefly: what a caller without the token may make the server read.
        await drain(requests, seconds=1.0)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    return grpc.stream_unary_rpc_method_handler(abort)


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        if details.method.startswith(_OPEN_PREFIXES):
            return await continuation(details)
        sent = b""
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                sent = value.encode() if isinstance(value, str) else value
        # Constant-time: the comparison must not tell how much of a guess was right.
        if hmac.compare_digest(sent, self._expected):
            return await continuation(details)
        message = "missing or wrong bearer token in 'authorization' metadata"
        handler = await continuation(details)
        if handler is not None and handler.request_streaming:
            return _refuse_stream(message)
        return _refuse(message)
