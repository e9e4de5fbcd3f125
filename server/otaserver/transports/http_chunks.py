"""The hot path of HTTP downloads: a device's chunk, answered before Starlette's routing.

A device fetching its firmware in 4 KiB chunks sends one `GET /api/v1/{token}/firmware?...` per
chunk; through Starlette's routing, the request object, the query parsing and a
StreamingResponse, that costs several times the chunk's own work. This middleware answers the
common case, a chunk of at most READ_SIZE bytes of the package the device was assigned, with
one plain response of bytes read in one go. Its answer is byte for byte the route's
(`http.py`): same status, headers and body.

Anything else goes on to the routes unchanged and is answered there: a whole-file or Range
download, a larger chunk, a parameter that is missing, malformed or not the assigned
package's title or version, an injected fault. A lookup that fails with one of our errors (an
unknown token, say) is answered here with the same JSON error the route would give, so that a
bad token costs one database lookup, not two.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..api.disposition import attachment_headers
from ..api.errors import ota_error
from ..domain import faults
from ..domain.enums import OtaPackageType
from ..domain.errors import OtaError
from ..domain.model import OtaPackage
from ..domain.ota import chunk_range
from ..services.ports import BlobMissing
from ..sessions import Transport

_PATH = re.compile(r"/api/v1/([^/]+)/(firmware|software)")
_KINDS = {"firmware": OtaPackageType.FIRMWARE, "software": OtaPackageType.SOFTWARE}
_DIGITS = re.compile(r"[0-9]{1,12}")
MAX_CHUNK = 64 * 1024  # larger chunks are streamed by the route, a piece at a time
MAX_HEADS_KEPT = 1000


class ChunkFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        # A package's response headers, as the route's Response builds them; only the length
        # changes from chunk to chunk.
        self._heads: dict[tuple[object, ...], tuple[list[tuple[bytes, bytes]], int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            match = _PATH.fullmatch(scope["path"])
            if match is not None:
                answer = await self._answer(scope, match[1], _KINDS[match[2]])
                if isinstance(answer, Response):
                    await answer(scope, receive, send)
                    return
                if answer is not None:
                    headers, body, started = answer
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    metrics = scope["app"].state.metrics
                    metrics.chunk_served(Transport.HTTP, time.perf_counter() - started)
                    return
        await self._app(scope, receive, send)

    async def _answer(
        self, scope: Scope, token: str, kind: OtaPackageType
    ) -> tuple[list[tuple[bytes, bytes]], bytes, float] | Response | None:
        """The chunk (headers, body, when its work began), the route's error response for a
        failed lookup, or None when the route should answer."""
        started = time.perf_counter()
        if faults.any_active():
            return None  # a fault's behaviour is the route's business
        # A NUL in the URL never gets here: UrlTextGuard, the middleware outside this one,
        # has answered it with 400.
        query = _query(scope["query_string"])
        title, version = query.get("title"), query.get("version")
        size, chunk = query.get("size", ""), query.get("chunk", "")
        if title is None or version is None:
            return None
        if not (_DIGITS.fullmatch(size) and (chunk == "" or _DIGITS.fullmatch(chunk))):
            return None
        chunk_size, index = int(size), int(chunk or "0")
        if not 0 < chunk_size <= MAX_CHUNK:
            return None
        api = scope["app"].state.services.device_api
        try:
            _, package = await api.download_target(token, kind)
        except OtaError as error:
            return await ota_error(None, error)  # type: ignore[arg-type]
        data = None if package is None else api.data_of(package)
        if package is None or data is None or (title, version) != (package.title, package.version):
            return None  # the route's 404 or 400
        start, end = chunk_range(data.size, chunk_size, index)
        try:
            body = b"".join([piece async for piece in api.read(data, start, end)])
        except BlobMissing:
            body = b""
        if len(body) != end - start:
            return None  # the blob is gone or short: the route meets the same and fails alike
        headers, at = self._head(package)
        headers = headers.copy()
        headers[at] = (b"content-length", str(end - start).encode())
        return headers, body, started

    def _head(self, package: OtaPackage) -> tuple[list[tuple[bytes, bytes]], int]:
        """The route's response headers for this package, and where its length goes."""
        key = (package.id, package.download_name, package.content_type)
        found = self._heads.get(key)
        if found is None:
            headers = attachment_headers(package.download_name)
            headers["Content-Length"] = "0"
            media_type = package.content_type or "application/octet-stream"
            raw = Response(b"", headers=headers, media_type=media_type).raw_headers
            if len(self._heads) >= MAX_HEADS_KEPT:
                self._heads.clear()
            found = self._heads[key] = (raw, raw.index((b"content-length", b"0")))
        return found


def _query(raw: bytes) -> dict[str, str]:
    """A query as Starlette reads it: Latin-1, blanks kept, the last of repeated names wins."""
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    query = {}
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            query[name] = value
    return query
