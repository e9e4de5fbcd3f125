"""The live dashboard feed: Server-Sent Events of update-state changes (the web console's).

The stream ends when the client goes away (its disconnect is listened for, not inferred from
a failed write) and when the server stops (the session registry's `closing`). Nothing reads
from the database while no change is pending; a comment every KEEP_ALIVE seconds keeps
proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..domain.errors import OtaError
from ..services.dashboard_live import LiveEvent, LiveStream
from .ota import FILTERS, TAG, filters
from .routing import Operation, principal, services

log = logging.getLogger(__name__)
KEEP_ALIVE_SECONDS = 15.0
KEEP_ALIVE = b": keep-alive\n\n"


def encode(event: LiveEvent) -> bytes:
    data = json.dumps(event.data, separators=(",", ":"), default=str)
    return f"event: {event.name}\ndata: {data}\n\n".encode()


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        stream: LiveStream,
        closing: asyncio.Event,
        still_allowed: Callable[[], Awaitable[bool]],
    ) -> None:
        # Not Response.__init__: that would announce an empty body (Content-Length: 0).
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._stream, self._closing = stream, closing
        self._still_allowed = still_allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if scope["method"] != "HEAD":
                await self._events(send, gone)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client left while we wrote: nothing to tell it
        finally:
            self._stream.close()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _events(self, send: Send, gone: asyncio.Event) -> None:
        stops = (gone, self._closing)
        loop = asyncio.get_running_loop()
        checked = loop.time()  # when the login was last found still valid
        await _body(send, encode(self._stream.first))
        while not any(stop.is_set() for stop in stops):
            try:
                event = await self._stream.next(KEEP_ALIVE_SECONDS, stops)
            except OtaError as error:  # e.g. the filtered package was deleted meanwhile
                log.info("live dashboard stream ends: %s", error.message)
                return
            except Exception as error:  # the database went away: the browser reconnects
                log.warning("live dashboard stream ends: %s", error)
                return
            if any(stop.is_set() for stop in stops):
                break
            if loop.time() >= checked + KEEP_ALIVE_SECONDS:
                if not await self._still_allowed():
                    return  # logged out, or the token expired: no more events for it
                checked = loop.time()
            await _body(send, KEEP_ALIVE if event is None else encode(event))


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception:  # a connection that cannot be read from is gone too
        pass
    gone.set()


async def events(request: Request) -> Response:
    who = await principal(request)
    stream = await services(request).live_dashboard.open(who, filters(request))

    async def still_allowed() -> bool:
        """The login is checked again every KEEP_ALIVE_SECONDS: a logout ends the stream."""
        try:
            await principal(request)
        except OtaError:
            return False
        return True

    return EventStreamResponse(stream, request.app.state.sessions.closing, still_allowed)


OPERATIONS = [
    Operation(
        "GET",
        "/api/ota/dashboard/events",
        events,
        "Live feed (Server-Sent Events): `counts` at once, then `change` events with the counts "
        "and the rows of the devices that changed (at most 500, else `truncated`), coalesced "
        "to one per OTAKIT_CONSOLE_PUSH_INTERVAL_MS; a `: keep-alive` comment every 15 s",
        TAG,
        query=FILTERS,
        response="events",
    ),
]
