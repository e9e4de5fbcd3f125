"""The dashboard's data endpoints: stale filter, CSV, timeline, durations, history durations."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.conftest import TenantContext
from tests.server.console.sse import device_with_token, package_id_json, report
from tests.support.api import assert_error
from tests.support.ota import states, wait_for

HOUR = 3600 * 1000
HEADER = [
    "device",
    "current title",
    "current version",
    "target title",
    "target version",
    "status",
    "progress",
    "last change",
    "error",
    "retries",
]


def _name() -> str:
    return f"data-{uuid.uuid4().hex[:8]}"


def _assigned(tenant: TenantContext, count: int) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A package and `count` devices assigned it, once the queue has notified them."""
    api = tenant.api
    package = api.create_package(tenant.default_profile_id, _name(), "2.0")
    package = api.upload(package["id"]["id"], b"image" * 50)
    devices = [
        device_with_token(tenant, _name(), firmwareId=package_id_json(package))
        for _ in range(count)
    ]
    for device_id, _ in devices:
        wait_for(lambda d=device_id: "INITIATED" in [v for _, v in states(tenant, d)], 15)
    return package, devices


def _page(tenant: TenantContext, **params: Any) -> list[dict[str, Any]]:
    found = tenant.api.get(
        "/api/ota/dashboard/devices", params={"pageSize": 100, "page": 0, **params}
    )
    return found["data"]  # type: ignore[no-any-return]


def test_stale_filter_lists_unfinished_devices_unchanged_for_so_long(tenant: TenantContext) -> None:
    _, devices = _assigned(tenant, 4)
    (stuck, stuck_token), (fresh, fresh_token), (done, done_token), (failed, failed_token) = devices
    now = int(time.time() * 1000)
    # Reported with their own (old) times: the state keeps the device's time.
    report(tenant.api, stuck_token, {"ts": now + 1, "values": {"fw_state": "DOWNLOADING"}})
    report(tenant.api, fresh_token, {"ts": now + 2, "values": {"fw_state": "DOWNLOADING"}})
    report(tenant.api, done_token, {"ts": now + 3, "values": {"fw_state": "UPDATED"}})
    report(tenant.api, failed_token, {"ts": now + 4, "values": {"fw_state": "FAILED"}})
    time.sleep(1.2)
    report(tenant.api, fresh_token, {"fw_state": "DOWNLOADED"})
    stale = _page(tenant, staleForMs=1000)
    assert [row["deviceId"]["id"] for row in stale] == [stuck]
    assert _page(tenant, staleForMs=1000, tab="updating") == stale
    assert _page(tenant, staleForMs=1000, tab="updated") == []
    assert {row["deviceId"]["id"] for row in _page(tenant, staleForMs=3_600_000)} == set()
    assert {row["deviceId"]["id"] for row in _page(tenant)} == {stuck, fresh, done, failed}


def test_csv_has_the_header_and_every_row(tenant: TenantContext) -> None:
    package, devices = _assigned(tenant, 3)
    (one, one_token), (two, _), (three, three_token) = devices
    names = {
        d["id"]["id"]: d["name"]
        for d in tenant.api.get("/api/tenant/devices", params={"pageSize": 10, "page": 0})["data"]
    }
    ts = int(time.time() * 1000) + 5
    report(
        tenant.api,
        one_token,
        {"ts": ts, "values": {"fw_state": "FAILED", "fw_error": 'bad, "checksum"'}},
    )
    report(
        tenant.api,
        three_token,
        {"ts": ts, "values": {"fw_state": "DOWNLOADING", "current_fw_title": "=HYPERLINK(1)"}},
    )
    response = tenant.api.request("GET", "/api/ota/dashboard/devices.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="ota-devices.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == HEADER
    assert len(rows) == 4
    by_name = {row[0]: row for row in rows[1:]}
    iso = datetime.fromtimestamp(ts / 1000, UTC).isoformat(timespec="milliseconds")
    assert by_name[names[one]] == [
        names[one],
        "",
        "",
        package["title"],
        "2.0",
        "FAILED",
        "99",
        iso.replace("+00:00", "Z"),
        'bad, "checksum"',
        "0",
    ]
    assert by_name[names[two]][5:7] == ["INITIATED", "5"]
    # The same filters as the table: a tab, a search.
    failed = list(
        csv.reader(
            io.StringIO(
                tenant.api.request(
                    "GET", "/api/ota/dashboard/devices.csv", params={"tab": "failed"}
                ).text
            )
        )
    )
    assert [row[0] for row in failed[1:]] == [names[one]]
    # What a device reported is never a formula to a spreadsheet.
    assert by_name[names[three]][1] == "'=HYPERLINK(1)"
    searched = tenant.api.request(
        "GET", "/api/ota/dashboard/devices.csv", params={"textSearch": names[three]}
    ).text
    assert [row[0] for row in list(csv.reader(io.StringIO(searched)))[1:]] == [names[three]]


def test_timeline_counts_devices_per_tab_at_each_bucket_end(tenant: TenantContext) -> None:
    api = tenant.api
    profile = api.create_profile(_name())["id"]["id"]
    a_token, b_token, c_token = [
        token for _, token in (device_with_token(tenant, _name(), profile) for _ in range(3))
    ]
    device_with_token(tenant, _name())  # another profile's: filtered out
    start = int(time.time() * 1000) - 240 * HOUR
    for token, points in (
        (a_token, [(start + 500, "DOWNLOADING"), (start + 1000, "UPDATED")]),
        (b_token, [(start - 100, "QUEUED"), (start + 2500, "FAILED")]),
        (c_token, [(start + 1001, "DOWNLOADING"), (start + 9000, "UPDATED")]),
    ):
        for ts, state in points:
            report(api, token, {"ts": ts, "values": {"fw_state": state}})
    found = api.get(
        "/api/ota/dashboard/timeline",
        params={"startTs": start, "endTs": start + 4000, "buckets": 4, "deviceProfileId": profile},
    )
    assert (found["startTs"], found["endTs"], found["intervalMs"]) == (start, start + 4000, 1000)
    table = [
        (p["ts"] - start, p["waiting"], p["updating"], p["updated"], p["failed"])
        for p in found["points"]
    ]
    assert table == [
        (1000, 1, 0, 1, 0),  # a's UPDATED at the very end of the first bucket counts there
        (2000, 1, 1, 1, 0),
        (3000, 0, 1, 1, 1),
        (4000, 0, 1, 1, 1),  # c's UPDATED comes after the end
    ]
    default = api.get("/api/ota/dashboard/timeline", params={"deviceProfileId": profile})
    assert default["endTs"] - default["startTs"] == 24 * HOUR
    assert len(default["points"]) == 60
    assert default["points"][-1]["ts"] == default["endTs"]
    # Everything is older than the last day: the states at its start hold throughout.
    assert {(p["updated"], p["failed"], p["updating"]) for p in default["points"]} == {(2, 1, 0)}


def test_durations_from_queued_to_updated(tenant: TenantContext) -> None:
    package, devices = _assigned(tenant, 3)
    for (device_id, token), seconds in zip(devices, (10, 20, 30), strict=True):
        queued = next(ts for ts, v in states(tenant, device_id) if v == "QUEUED")
        report(
            tenant.api, token, {"ts": queued + seconds * 1000, "values": {"fw_state": "UPDATED"}}
        )
    # Not counted: a device without a target, and one still on its way.
    _, stray = device_with_token(tenant, _name())
    report(tenant.api, stray, {"fw_state": "UPDATED"})
    found = tenant.api.get("/api/ota/dashboard/durations")
    assert (found["count"], found["p50"], found["p90"], found["p99"]) == (3, 20000, 30000, 30000)
    assert sum(b["count"] for b in found["bins"]) == 3
    assert found["bins"][0]["fromMs"] == 10000 and found["bins"][0]["count"] == 1
    assert found["bins"][-1]["fromMs"] <= 30000 < found["bins"][-1]["toMs"]
    assert all(b["toMs"] - b["fromMs"] == found["bins"][0]["toMs"] - 10000 for b in found["bins"])
    other = tenant.api.get(
        "/api/ota/dashboard/durations",
        params={
            "otaPackageId": tenant.api.create_package(tenant.default_profile_id, _name(), "1")[
                "id"
            ]["id"]
        },
    )
    assert other == {"count": 0, "p50": None, "p90": None, "p99": None, "bins": []}
    assert package  # the devices' target


def test_history_entries_carry_their_duration(tenant: TenantContext) -> None:
    device_id, token = device_with_token(tenant, _name())
    base = int(time.time() * 1000) - HOUR
    for offset, state in ((0, "DOWNLOADING"), (300, "DOWNLOADED"), (1000, "UPDATED")):
        report(tenant.api, token, {"ts": base + offset, "values": {"fw_state": state}})
    history = tenant.api.get(f"/api/ota/device/{device_id}/history")
    assert [(e["status"], e["durationMs"]) for e in history] == [
        ("DOWNLOADING", 300),
        ("DOWNLOADED", 700),
        ("UPDATED", None),
    ]


BAD = (
    (
        "/api/ota/dashboard/devices",
        {"pageSize": 1, "page": 0, "staleForMs": "soon"},
        "staleForMs",
    ),
    ("/api/ota/dashboard/devices", {"pageSize": 1, "page": 0, "staleForMs": "0"}, "staleForMs"),
    ("/api/ota/dashboard/devices.csv", {"tab": "stuck"}, "tab"),
    ("/api/ota/dashboard/devices.csv", {"staleForMs": "-5"}, "staleForMs"),
    ("/api/ota/dashboard/devices.csv", {"otaPackageId": "x"}, "otaPackageId"),
    ("/api/ota/dashboard/timeline", {"buckets": "0"}, "buckets"),
    ("/api/ota/dashboard/timeline", {"buckets": "1001"}, "buckets"),
    ("/api/ota/dashboard/timeline", {"startTs": "2000", "endTs": "1000"}, "startTs"),
    ("/api/ota/dashboard/timeline", {"endTs": "yesterday"}, "endTs"),
    ("/api/ota/dashboard/durations", {"type": "BIOS"}, "BIOS"),
    ("/api/ota/dashboard/durations", {"deviceProfileId": "42"}, "deviceProfileId"),
)


def test_bad_parameters_are_400s_that_say_which(tenant: TenantContext) -> None:
    for path, params, message in BAD:
        assert_error(tenant.api.http.get(path, params=params), 400, message)


def test_the_table_sorts_by_each_of_its_columns(tenant: TenantContext) -> None:
    _, devices = _assigned(tenant, 3)
    (first, first_token), (second, second_token), (third, third_token) = devices
    report(tenant.api, first_token, {"fw_state": "UPDATED"})
    report(tenant.api, second_token, {"fw_state": "DOWNLOADING"})
    report(tenant.api, third_token, {"fw_state": "FAILED", "fw_error": "flash"})

    def order(**sort: str) -> list[str]:
        return [row["deviceId"]["id"] for row in _page(tenant, **sort)]

    names = {row["deviceId"]["id"]: row["deviceName"] for row in _page(tenant)}
    by_name = sorted(names, key=names.__getitem__)
    assert order(sortProperty="deviceName", sortOrder="ASC") == by_name
    assert order(sortProperty="deviceName", sortOrder="DESC") == by_name[::-1]
    # Progress: DOWNLOADING 10, FAILED 99, UPDATED 100.
    assert order(sortProperty="progress", sortOrder="ASC") == [second, third, first]
    assert order(sortProperty="status", sortOrder="ASC") == [second, third, first]
    # Without a sort: latest change first.
    assert order() == [third, second, first]
    response = tenant.api.request(
        "GET",
        "/api/ota/dashboard/devices",
        400,
        params={"pageSize": 10, "page": 0, "sortProperty": "secret"},
    )
    assert "sortProperty" in response.json()["message"]
