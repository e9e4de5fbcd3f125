"""Reading a Server-Sent Events stream in tests: events as (name, JSON data), with a deadline."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import TenantContext
from tests.support.api import Api, entity_id

EVENTS = "/api/ota/dashboard/events"


@dataclass
class Event:
    name: str
    data: dict[str, Any]
    received: float  # time.monotonic() on arrival


class EventStream:
    """An open stream, read by a thread into a queue (so a test can wait with a deadline)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.comments: list[str] = []
        self.ended = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        name, data = "message", ""
        try:
            for line in self.response.iter_lines():
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    self.events.put(Event(name, json.loads(data), time.monotonic()))
                    name, data = "message", ""
        except Exception:
            pass
        finally:
            self.ended.set()
            self.events.put(None)

    def next(self, timeout: float = 5) -> Event:
        event = self.events.get(timeout=timeout)
        assert event is not None, "the stream ended"
        return event

    def until(self, timeout: float, condition: Any) -> tuple[Event, list[Event]]:
        """The first event that meets `condition`, and every event before it."""
        deadline = time.monotonic() + timeout
        seen: list[Event] = []
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no matching event within {timeout} s; got {seen}"
            try:
                event = self.next(left)
            except queue.Empty:
                continue
            if condition(event):
                return event, seen
            seen.append(event)

    def drain(self, seconds: float) -> list[Event]:
        """Every event that arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        found = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if event is None:
                break
            found.append(event)
        return found


@contextmanager
def open_stream(api: Api, **params: str) -> Iterator[EventStream]:
    client = httpx.Client(base_url=api.url, timeout=httpx.Timeout(30, read=60))
    headers = {"X-Authorization": f"Bearer {api.token}"}
    try:
        with client.stream("GET", EVENTS, params=params, headers=headers) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            yield EventStream(response)
    finally:
        client.close()


def rows_of(event: Event) -> dict[str, dict[str, Any]]:
    return {row["deviceId"]["id"]: row for row in event.data.get("devices", [])}


def has_row(device_id: str, status: str | None = None) -> Any:
    def condition(event: Event) -> bool:
        row = rows_of(event).get(device_id)
        return row is not None and (status is None or row["status"] == status)

    return condition


def device_with_token(
    tenant: TenantContext, name: str, profile_id: str | None = None, **extra: Any
) -> tuple[str, str]:
    token = f"tok-{name}"
    device = tenant.api.create_device(name, profile_id or tenant.default_profile_id, token, **extra)
    return device["id"]["id"], token


def report(api: Api, token: str, values: dict[str, Any]) -> None:
    response = api.http.post(f"/api/v1/{token}/telemetry", json=values)
    assert response.status_code == 200, response.text


def package_id_json(package: dict[str, Any]) -> dict[str, str]:
    return entity_id("OTA_PACKAGE", package["id"]["id"])
