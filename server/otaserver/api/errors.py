"""The one JSON error shape: {"status","message","errorCode","timestamp"}, for every error."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.enums import ErrorCode
from ..domain.errors import OtaError, TooManyRequests

log = logging.getLogger(__name__)

_CODES_BY_STATUS = {
    400: ErrorCode.BAD_REQUEST_PARAMS,
    401: ErrorCode.AUTHENTICATION,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.ITEM_NOT_FOUND,
    429: ErrorCode.TOO_MANY_REQUESTS,
}


def error_body(status: int, message: str, code: int | None = None) -> dict[str, object]:
    return {
        "status": status,
        "message": message,
        "errorCode": int(code if code is not None else _CODES_BY_STATUS.get(status, 2)),
        "timestamp": int(time.time() * 1000),
    }


def error_response(
    status: int, message: str, code: int | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message, code), status_code=status, headers=headers)


async def ota_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OtaError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    return error_response(exc.status, exc.message, exc.error_code, headers)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "Requested item wasn't found!", 405: "Request method not supported"}
    message = messages.get(exc.status_code, str(exc.detail))
    # The headers carry what the status needs, such as a 405's Allow.
    return error_response(exc.status_code, message, headers=dict(exc.headers or {}))


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Internal server error")


EXCEPTION_HANDLERS = {OtaError: ota_error, HTTPException: http_error, Exception: internal_error}
