"""Errors a call can end with, each mapped to one gRPC status."""

from __future__ import annotations

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


class Unavailable(ApiError):
    code = grpc.StatusCode.UNAVAILABLE
