"""The HTTP listener's defences against slow, idle and too many clients.

uvicorn times out idle keep-alive connections, but not a client that connects and sends its
headers a line at a time (slowloris), nor a body that stops half way, and it accepts connections
until the process runs out of file descriptors, at which point nothing answers anyone (the MQTT
listener included). These protocols add, on uvicorn's own h11 or httptools protocol:

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

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    HTTPTOOLS_INSTALLED = True
except ImportError:  # httptools is not installed: only h11
    HttpToolsProtocol = H11Protocol  # type: ignore[misc, assignment]
    HTTPTOOLS_INSTALLED = False

from ..api.errors import error_body
from ..throttled_log import ThrottledLog

_REASONS = {400: "Bad Request", 408: "Request Timeout", 503: "Service Unavailable"}
MAX_HEADER_BYTES = 16 * 1024  # h11's default limit on an incomplete event, which uvicorn keeps


class _Guard(asyncio.Protocol):
    """The defences, on any of uvicorn's HTTP protocols: a subclass says where its client is."""

    # Set by `guarded_protocol` on a subclass: uvicorn makes the instances itself.
    header_timeout: float
    body_timeout: float
    max_connections: int
    warnings: ThrottledLog
    # uvicorn's protocol's own
    connections: set[Any]
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _timer: asyncio.TimerHandle | None
    _timing_headers: bool

    def _guard_connection(self) -> None:
        """At connection_made: the connection bound, or the header deadline."""
        if len(self.connections) > self.max_connections:
            self.warnings.warning(
                "http-connections",
                f"HTTP connection limit of {self.max_connections} reached: refusing connections",
            )
            self._refuse(503, "Too many connections; try again in a moment", {"Retry-After": "1"})
            return
        self._watch()

    def _waiting_for_headers(self) -> bool:
        raise NotImplementedError

    def _reading_body(self) -> bool:
        raise NotImplementedError

    def _watch(self) -> None:
        """Arms the timer that fits where the client is: in its headers, or in its body."""
        if self.transport.is_closing():
            self._stop_timer()
        elif self._waiting_for_headers():
            # Waiting for a request's headers: one deadline for all of them, not per line.
            if not self._timing_headers:
                self._start_timer(self.header_timeout, self._headers_too_slow)
                self._timing_headers = True
        elif self._reading_body():
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
        # The parser refused the request (malformed, or headers past its size limit).
        self._refuse(400, f"Invalid HTTP request: {msg}")

    def _refuse(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """Answers with the JSON error shape outside the parser's state machine, and closes."""
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


class GuardedH11Protocol(_Guard, H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer = None
        self._timing_headers = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard_connection()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def _waiting_for_headers(self) -> bool:
        return self.conn.their_state is h11.IDLE and (
            self.cycle is None or self.cycle.response_complete
        )

    def _reading_body(self) -> bool:
        return self.conn.their_state is h11.SEND_BODY


class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):
    """The same defences on uvicorn's httptools protocol (llhttp, several times faster than
    h11). llhttp has no limit of its own on the size of a request's headers: here it is h11's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer = None
        self._timing_headers = False
        self._in_message = False  # between a request's first byte and its end
        self._in_body = False  # past its headers, before its end
        self._header_bytes = 0  # received since the request's first byte, headers not done

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard_connection()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_message and not self._in_body:  # still in a request's headers
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(400, "Invalid HTTP request: the request headers are too large")
                return
        self._watch()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_message, self._in_body, self._header_bytes = True, False, 0

    def on_headers_complete(self) -> None:
        self._in_body, self._header_bytes = True, 0
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = _HeadWithBody(self.transport, cycle)  # type: ignore[assignment]

    def on_response_complete(self) -> None:
        cycle = self.cycle
        if cycle is not None and isinstance(cycle.transport, _HeadWithBody):
            cycle.transport.flush()  # a response without body bytes (HEAD, say)
        super().on_response_complete()
        self._watch()

    def on_message_complete(self) -> None:
        self._in_message, self._in_body = False, False
        super().on_message_complete()

    def _waiting_for_headers(self) -> bool:
        if self._in_message:
            return not self._in_body
        return self.cycle is None or self.cycle.response_complete

    def _reading_body(self) -> bool:
        return self._in_message and self._in_body


class _HeadWithBody:
    """A connection's transport as one request's response sees it: the response's head is held
    until its first body bytes, and both leave in one write.

    uvicorn writes a response's status line and headers, then its body, each at once: two
    send() calls where one does, and a send() on loopback costs as much as all of a small
    chunk's other work. Anything but `write` and `close` goes to the transport itself.
    """

    __slots__ = ("_cycle", "_head", "_sent_head", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport, self._cycle = transport, cycle
        self._head: bytes | None = None
        self._sent_head = False

    def write(self, data: bytes) -> None:
        if not self._sent_head and self._cycle.response_started:
            # The head (a "100 Continue" before it is written while response_started is False).
            self._sent_head = True
            self._head = data
            return
        if self._head is not None:
            data, self._head = self._head + data, None
        self._transport.write(data)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def guarded_protocol(
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    warnings: ThrottledLog,
    parser: str = "h11",
) -> type[_Guard]:
    """The protocol class for uvicorn's `http=`, with these limits, on the parser named
    ("h11", or "httptools" when it is installed)."""
    base: type[_Guard] = GuardedHttpToolsProtocol if parser == "httptools" else GuardedH11Protocol
    return type(
        base.__name__,
        (base,),
        {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_connections": max_connections,
            "warnings": warnings,
        },
    )
