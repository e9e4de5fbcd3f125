"""The live dashboard feed (GET /api/ota/dashboard/events) on a real server, both databases."""

from __future__ import annotations

import itertools
import socket
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import TenantContext, create_tenant, database_for
from tests.server.console.sse import (
    EVENTS,
    device_with_token,
    has_row,
    open_stream,
    report,
    rows_of,
)
from tests.support.api import Api, assert_error
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD, start_server

COUNT_KEYS = {"waiting", "updating", "updated", "failed", "total"}
ROW_KEYS = {
    "deviceId",
    "deviceName",
    "currentTitle",
    "currentVersion",
    "targetTitle",
    "targetVersion",
    "status",
    "progress",
    "lastChange",
    "error",
    "retries",
    "finished",
}


def _name() -> str:
    return f"live-{uuid.uuid4().hex[:8]}"


def test_counts_first_then_a_change_within_a_second_of_a_report(tenant: TenantContext) -> None:
    api = tenant.api
    package = api.create_package(tenant.default_profile_id, _name(), "1.0")
    package = api.upload(package["id"]["id"], b"fw" * 100)
    device_id, token = device_with_token(
        tenant, _name(), firmwareId={"entityType": "OTA_PACKAGE", "id": package["id"]["id"]}
    )
    with open_stream(api) as stream:
        first = stream.next()
        assert first.name == "counts"
        assert set(first.data["counts"]) == COUNT_KEYS
        assert first.data["counts"]["total"] == 1
        assert abs(first.data["at"] / 1000 - time.time()) < 60
        time.sleep(1.5)  # the queue's INITIATED (pack interval 1 s) goes out first
        stream.drain(0.5)
        sent = time.monotonic()
        report(api, token, {"fw_state": "DOWNLOADING"})
        event, _ = stream.until(5, has_row(device_id, "DOWNLOADING"))
        assert event.name == "change"
        assert event.received - sent < 1.0
        row = rows_of(event)[device_id]
        assert set(row) == ROW_KEYS
        assert row["deviceId"] == {"entityType": "DEVICE", "id": device_id}
        assert row["targetTitle"] == package["title"] and row["targetVersion"] == "1.0"
        assert row["progress"] == 10 and row["finished"] is False
        assert event.data["counts"]["updating"] == 1
        assert "truncated" not in event.data
        # The same row as the device table's.
        table = api.get("/api/ota/dashboard/devices", params={"pageSize": 10, "page": 0})
        assert table["data"] == [row]


def test_a_customer_users_stream_never_carries_another_customers_device(
    tenant: TenantContext,
) -> None:
    api = tenant.api
    ours = api.post("/api/customer", {"title": _name()})["id"]["id"]
    theirs = api.post("/api/customer", {"title": _name()})["id"]["id"]
    our_device, our_token = device_with_token(tenant, _name())
    their_device, their_token = device_with_token(tenant, _name())
    api.post(f"/api/customer/{ours}/device/{our_device}")
    api.post(f"/api/customer/{theirs}/device/{their_device}")
    user = tenant.new_user("CUSTOMER_USER", customer_id=ours)
    with open_stream(user) as stream:
        assert stream.next().name == "counts"
        report(api, their_token, {"fw_state": "DOWNLOADING"})
        time.sleep(0.6)  # past a push interval: their change would have gone out by now
        report(api, our_token, {"fw_state": "DOWNLOADING"})
        event, before = stream.until(5, has_row(our_device))
        for seen in [*before, event]:
            assert their_device not in rows_of(seen)
        assert list(rows_of(event)) == [our_device]


def test_a_profile_filter_leaves_other_profiles_devices_out(tenant: TenantContext) -> None:
    api = tenant.api
    profile = api.create_profile(_name())["id"]["id"]
    inside, inside_token = device_with_token(tenant, _name(), profile)
    outside, outside_token = device_with_token(tenant, _name())
    with open_stream(api, deviceProfileId=profile) as stream:
        assert stream.next().name == "counts"
        report(api, outside_token, {"fw_state": "DOWNLOADING"})
        time.sleep(0.6)
        report(api, inside_token, {"fw_state": "DOWNLOADING"})
        event, before = stream.until(5, has_row(inside))
        for seen in [*before, event]:
            assert outside not in rows_of(seen)
        # A SOFTWARE stream hears nothing of firmware states.
    with open_stream(api, type="SOFTWARE") as software:
        assert software.next().name == "counts"
        report(api, inside_token, {"fw_state": "DOWNLOADED"})
        assert software.drain(1.0) == []


def test_changes_within_one_interval_go_out_as_one_event(tenant: TenantContext) -> None:
    api = tenant.api
    devices = [device_with_token(tenant, _name()) for _ in range(12)]
    with open_stream(api) as stream:
        assert stream.next().name == "counts"
        started = time.monotonic()
        for _, token in devices:
            report(api, token, {"fw_state": "DOWNLOADING"})
        took = time.monotonic() - started
        events = stream.drain(took + 1.5)
        assert stream.comments == []  # waiting out an interval is not a keep-alive
    assert all(e.name == "change" for e in events)
    seen = set().union(*(rows_of(e) for e in events))
    assert seen == {device_id for device_id, _ in devices}
    # 12 reports, but at most one event per 250 ms (the first at once).
    assert len(events) <= 1 + int(took / 0.25) + 1 < 12
    times = [e.data["at"] for e in events]
    assert all(later - earlier >= 200 for earlier, later in itertools.pairwise(times))


def test_the_feed_needs_a_login_and_visible_filters(tenant: TenantContext) -> None:
    assert_error(httpx.get(tenant.api.url + EVENTS), 401)
    assert_error(tenant.api.http.get(EVENTS, params={"deviceProfileId": "nope"}), 400)
    assert_error(tenant.api.http.get(EVENTS, params={"type": "BIOS"}), 400, "BIOS")
    # Another tenant's profile: refused before any event is sent.
    other = tenant.api.create_profile(_name())["id"]["id"]
    stranger = create_tenant(Api.login(tenant.api.url, ADMIN_EMAIL, ADMIN_PASSWORD)).api
    response = stranger.http.get(EVENTS, params={"deviceProfileId": other})
    assert response.status_code in (403, 404), response.text


def test_keep_alive_every_15_s_and_a_logout_ends_the_stream(tenant: TenantContext) -> None:
    staying = tenant.api
    leaving = Api.login(staying.url, tenant.admin_email, "tenant-password")
    with open_stream(staying) as kept, open_stream(leaving) as ended:
        assert kept.next().name == "counts" and ended.next().name == "counts"
        leaving.post("/api/auth/logout")
        assert ended.ended.wait(20)
        assert kept.drain(1) == [] and kept.comments == [": keep-alive"]
        assert ended.comments == []


@pytest.mark.parametrize("how", ["client leaves", "server stops"])
def test_streams_end_cleanly(backend: str, tmp_path: Path, how: str) -> None:
    with ExitStack() as stack:
        server = start_server(tmp_path / "server", database_for(backend, stack))
        stack.callback(server.stop)
        tenant = create_tenant(Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD))
        if how == "client leaves":
            _, token = device_with_token(tenant, _name())
            for _ in range(3):
                _leave_after_counts(server.url, tenant.api.token or "")
            # A change after they left: a stream still open would read and write it.
            report(tenant.api, token, {"fw_state": "DOWNLOADING"})
            time.sleep(0.5)
        with open_stream(tenant.api) as stream:
            assert stream.next().name == "counts"
            stopped = time.monotonic()
            server.stop()
            assert stream.ended.wait(10)
            assert time.monotonic() - stopped < 5
        assert server.process.returncode == 0
        log = server.log()
        assert "Traceback" not in log and "ERROR" not in log, log


def _leave_after_counts(url: str, token: str) -> None:
    """A client that reads the first event and hangs up."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = f"GET {EVENTS} HTTP/1.1\r\nHost: {host}\r\nX-Authorization: Bearer {token}\r\n"
        sock.sendall(head.encode() + b"\r\n")
        received = b""
        while b"event: counts" not in received:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk


def test_a_change_committed_by_another_process_reaches_the_stream(
    backend: str, tmp_path: Path
) -> None:
    """Two server processes on one PostgreSQL: a device reports to one, a browser watches the
    other."""
    if backend != "postgresql":
        pytest.skip("one process only on SQLite")
    with ExitStack() as stack:
        database_url = database_for(backend, stack)
        watched = start_server(tmp_path / "a", database_url)
        stack.callback(watched.stop)
        reported_to = start_server(tmp_path / "b", database_url)
        stack.callback(reported_to.stop)
        tenant = create_tenant(Api.login(watched.url, ADMIN_EMAIL, ADMIN_PASSWORD))
        device_id, token = device_with_token(tenant, _name())
        with open_stream(tenant.api) as stream:
            assert stream.next().name == "counts"
            sent = time.monotonic()
            report(Api(reported_to.url), token, {"fw_state": "DOWNLOADING"})
            event, _ = stream.until(5, has_row(device_id, "DOWNLOADING"))
            assert event.received - sent < 1.0
