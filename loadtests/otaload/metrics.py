"""The update's metrics, as Locust request events: Locust's statistics, CSV and HTML reports and
its web UI show them as rows of (transport, name), with response times in milliseconds.

    connect     connection (or CoAP observation) set up
    reconnect   the same, after the connection dropped (the storm)
    notify      from the operator's assignment to the push that tells the device (ms)
    chunk       one chunk's round trip; its length is the chunk's size
    verified    the image's checksum matched (time from the first byte to the last)
    updated     from the assignment (or, when unknown, the notification) to UPDATED
    telemetry   one telemetry report answered (steady fleet)
    update      failures only: the update failed, the error naming the cause

Failures carry an exception whose text starts with its cause (see Cause), so Locust's failures
table groups them by cause.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

CONNECT, RECONNECT, NOTIFY, CHUNK = "connect", "reconnect", "notify", "chunk"
VERIFIED, UPDATED, TELEMETRY, UPDATE = "verified", "updated", "telemetry", "update"


class Cause(StrEnum):
    """Why a request or an update failed."""

    CHECKSUM = "checksum"  # the image did not match the announced checksum
    TIMEOUT = "timeout"  # no answer within the request timeout
    REFUSED = "refused"  # the server refused the connection or the request
    ERROR_TOPIC = "error topic"  # the server answered a chunk request on the OTA error topic
    CLOSED = "closed"  # the connection ended under a request
    FAILED = "failed"  # the device reported FAILED for another reason


class OtaFailure(Exception):
    """A failure with its cause first in its text: "checksum: ...", "timeout: ..."."""

    def __init__(self, cause: Cause, detail: str) -> None:
        super().__init__(f"{cause.value}: {detail}")
        self.cause = cause


def cause_of_error(error: str) -> Cause:
    """The cause of a device's FAILED state from its fw_error text."""
    return Cause.CHECKSUM if "checksum" in error.lower() else Cause.FAILED


def now_ms() -> float:
    """Wall-clock time, ms: it is compared across processes (assignment to push)."""
    return time.time() * 1000


class Reporter:
    """Fires one transport's events into a Locust environment."""

    def __init__(self, events: Any, transport: str) -> None:
        self.events = events
        self.transport = transport

    def success(self, name: str, ms: float, length: int = 0) -> None:
        self.events.request.fire(
            request_type=self.transport,
            name=name,
            response_time=max(ms, 0.0),
            response_length=length,
            exception=None,
            context={},
        )

    def failure(self, name: str, ms: float, error: OtaFailure) -> None:
        self.events.request.fire(
            request_type=self.transport,
            name=name,
            response_time=max(ms, 0.0),
            response_length=0,
            exception=error,
            context={},
        )
