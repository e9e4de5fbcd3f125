"""Errors that know their wire form: an HTTP status and ThingsBoard's `errorCode`.

Every layer raises these; the API turns any of them into the one JSON error shape.
"""

from __future__ import annotations

from .enums import ErrorCode


class OtaError(Exception):
    status = 500
    error_code = ErrorCode.GENERAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(OtaError):
    status = 400
    error_code = ErrorCode.BAD_REQUEST_PARAMS


class InvalidArguments(BadRequest):
    error_code = ErrorCode.INVALID_ARGUMENTS


class Unauthorized(OtaError):
    status = 401
    error_code = ErrorCode.AUTHENTICATION


class TokenExpired(Unauthorized):
    error_code = ErrorCode.JWT_TOKEN_EXPIRED


class Forbidden(OtaError):
    status = 403
    error_code = ErrorCode.PERMISSION_DENIED

    def __init__(self, message: str = "You don't have permission to perform this operation!"):
        super().__init__(message)


class NotFound(OtaError):
    status = 404
    error_code = ErrorCode.ITEM_NOT_FOUND

    def __init__(self, message: str = "Requested item wasn't found!"):
        super().__init__(message)


class Conflict(OtaError):
    """Another request changed the same thing at the same moment; trying again will do."""

    status = 409


class PayloadTooLarge(OtaError):
    status = 413
    error_code = ErrorCode.BAD_REQUEST_PARAMS


class TooManyRequests(OtaError):
    """A client over a rate limit; `retry_after` seconds later it may try again."""

    status = 429
    error_code = ErrorCode.TOO_MANY_REQUESTS

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class InsufficientStorage(OtaError):
    """The disk under the package store or the database is full; nothing was half-written."""

    status = 507

    def __init__(self, where: str) -> None:
        super().__init__(
            f"Storage is full: {where} has no space left; nothing was stored. "
            "Free some space and send it again."
        )
