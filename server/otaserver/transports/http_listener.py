"""The HTTP listener's defences against slow, idle and too many clients.

uvicorn times out idle keep-alive connections, but not a client that connects and sends its
headers a line at a time (slowloris), nor a body that stops half way, and it accepts connections
until the process runs out of file descriptors, at which point nothing answers anyone (the MQTT
listener included). This protocol adds, on uvicorn's own h11 protocol:

- a header deadline: a request's headers must be complete within `header_timeout` seconds of
  the connection (or of the request's first byte on a kept-alive connection), else 408;
- a body timeout: a request body that pauses for `body_timeout` seconds closes the connection;
- a connection bound: past `max_connections`, a new connection gets 503 at once and is closed,
  so its descriptor is free again before the next one arrives.

Every refusal is the API's one JSON error shape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..api.errors import error_body
from ..throttled_log import ThrottledLog

_REASONS = {400: "Bad Request", 408: "Request Timeout", 503: "Service Unavailable"}


class GuardedH11Protocol(H11Protocol):
    # Set by `guarded_protocol` on a subclass: uvicorn makes the instances itself.
    header_timeout: float
    body_timeout: float
    max_connections: int
    warnings: ThrottledLog

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._timing_headers = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self.warnings.warning(
                "http-connections",
                f"HTTP connection limit of {self.max_connections} reached: refusing connections",
            )
            self._refuse(503, "Too many connections; try again in a moment", {"Retry-After": "1"})
            return
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def _watch(self) -> None:
        """Arms the timer that fits where the client is: in its headers, or in its body."""
        if self.transport.is_closing():
            self._stop_timer()
            return
        state = self.conn.their_state
        if state is h11.IDLE and (self.cycle is None or self.cycle.response_complete):
            # Waiting for a request's headers: one deadline for all of them, not per line.
            if not self._timing_headers:
                self._start_timer(self.header_timeout, self._headers_too_slow)
                self._timing_headers = True
        elif state is h11.SEND_BODY:
            # Reading a body: any progress restarts the clock.
            self._start_timer(self.body_timeout, self._body_stalled)
        else:
            self._stop_timer()

    def _start_timer(self, seconds: float, callback: Callable[[], None]) -> None:
        self._stop_timer()
        self._timer = self.loop.call_later(seconds, callback)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timing_headers = False

    def _headers_too_slow(self) -> None:
        self._timer = None
        self.warnings.warning(
            "http-header-timeout",
            f"closed an HTTP connection that sent no complete request within "
            f"{self.header_timeout:g} s",
        )
        self._refuse(408, f"Request headers not received within {self.header_timeout:g} s")

    def _body_stalled(self) -> None:
        self._timer = None
        self.warnings.warning(
            "http-body-timeout",
            f"closed an HTTP connection whose request body paused for {self.body_timeout:g} s",
        )
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        # h11 refused the request (malformed, or headers past its size limit).
        self._refuse(400, f"Invalid HTTP request: {msg}")

    def _refuse(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """Answers with the JSON error shape outside h11's state machine, and closes."""
        self._stop_timer()
        body = json.dumps(error_body(status, message)).encode()
        head = [
            f"HTTP/1.1 {status} {_REASONS[status]}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        if not self.transport.is_closing():
            self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            self.transport.close()


def guarded_protocol(
    header_timeout: float, body_timeout: float, max_connections: int, warnings: ThrottledLog
) -> type[GuardedH11Protocol]:
    """The protocol class for uvicorn's `http=`, with these limits."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_connections": max_connections,
            "warnings": warnings,
        },
    )
