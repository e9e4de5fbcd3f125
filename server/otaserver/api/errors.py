"""The one JSON error shape: {"status","message","errorCode","timestamp"}, for every error."""

from __future__ import annotations

import logging
import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.enums import ErrorCode
from ..domain.errors import OtaError

log = logging.getLogger(__name__)

_CODES_BY_STATUS = {
    400: ErrorCode.BAD_REQUEST_PARAMS,
    401: ErrorCode.AUTHENTICATION,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.ITEM_NOT_FOUND,
}


def error_response(status: int, message: str, code: int | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "status": status,
            "message": message,
            "errorCode": int(code if code is not None else _CODES_BY_STATUS.get(status, 2)),
            "timestamp": int(time.time() * 1000),
        },
        status_code=status,
    )


async def ota_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OtaError)
    return error_response(exc.status, exc.message, exc.error_code)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "Requested item wasn't found!", 405: "Request method not supported"}
    return error_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)))


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Internal server error")


EXCEPTION_HANDLERS = {OtaError: ota_error, HTTPException: http_error, Exception: internal_error}
