"""Device-reported statuses, their history, the dashboard's numbers and stuck updates."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.conftest import TenantContext
from tests.server.orchestration.test_queue import (
    assign_profile,
    package,
    profile_with_devices,
    token_of,
)
from tests.support.ota import initiated, report, shared, states, wait_for
from tests.support.process import ServerProcess

Start = Callable[..., tuple[ServerProcess, TenantContext]]
REPORTS = [
    "IDLE",
    "DOWNLOADING",
    "DOWNLOADING",
    "SOMETHING_ELSE",
    "DOWNLOADED",
    "VERIFIED",
    "UPDATING",
]


def history(tenant: TenantContext, device_id: str) -> list[dict[str, Any]]:
    return tenant.api.get(f"/api/ota/device/{device_id}/history")  # type: ignore[no-any-return]


def counts(tenant: TenantContext, **params: str) -> dict[str, int]:
    return tenant.api.get("/api/ota/dashboard/counts", params=params)  # type: ignore[no-any-return]


def test_history_keeps_every_reported_status_in_order(paced: Start) -> None:
    _, tenant = paced(100, 1000)
    profile_id, (device,) = profile_with_devices(tenant, 1)
    pkg = package(tenant, profile_id)
    device_id, token = device["id"]["id"], token_of(tenant, device)
    tenant.api.post("/api/device", {**device, "firmwareId": pkg["id"]})
    wait_for(lambda: bool(initiated(tenant, device_id)), 10)
    base = states(tenant, device_id)[-1][0]
    for offset, status in enumerate(REPORTS, start=1):
        report(tenant, token, {"ts": base + offset, "values": {"fw_state": status}})
    report(
        tenant,
        token,
        {
            "ts": base + 100,
            "values": {
                "fw_state": "UPDATED",
                "current_fw_title": pkg["title"],
                "current_fw_version": pkg["version"],
            },
        },
    )
    entries = history(tenant, device_id)
    assert [e["status"] for e in entries] == ["QUEUED", "INITIATED", *REPORTS, "UPDATED"]
    timestamps = [e["ts"] for e in entries]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) == len(timestamps)
    [row] = tenant.api.get(
        "/api/ota/dashboard/devices",
        params={"pageSize": 10, "page": 0, "deviceProfileId": profile_id},
    )["data"]
    assert row["status"] == "UPDATED" and row["progress"] == 100 and row["finished"] is True
    assert (row["currentTitle"], row["currentVersion"]) == (pkg["title"], pkg["version"])
    assert (row["targetTitle"], row["targetVersion"]) == (pkg["title"], pkg["version"])
    assert row["lastChange"] == base + 100
    assert counts(tenant, otaPackageId=pkg["id"]["id"]) == {
        "waiting": 0,
        "updating": 0,
        "updated": 1,
        "failed": 0,
        "total": 1,
    }


def test_history_entries_name_the_package_targeted_then(paced: Start) -> None:
    _, tenant = paced(100, 1000)
    profile_id, (device,) = profile_with_devices(tenant, 1)
    device_id, token = device["id"]["id"], token_of(tenant, device)
    report(tenant, token, {"fw_state": "IDLE"})  # before any assignment: no package
    first = package(tenant, profile_id, "1.0", "first-fw")
    second = package(tenant, profile_id, "2.0", "second-fw")
    device = tenant.api.post("/api/device", {**device, "firmwareId": first["id"]})
    wait_for(lambda: len(initiated(tenant, device_id)) == 1, 10)
    report(tenant, token, {"fw_state": "DOWNLOADING"})
    report(tenant, token, {"fw_state": "FAILED", "fw_error": "no space"})
    tenant.api.post("/api/device", {**device, "firmwareId": second["id"]})
    wait_for(lambda: len(initiated(tenant, device_id)) == 2, 10)
    report(tenant, token, {"fw_state": "DOWNLOADING"})

    entries = history(tenant, device_id)
    assert [(e["status"], e["title"], e["version"], e["error"]) for e in entries] == [
        ("IDLE", None, None, None),
        ("QUEUED", "first-fw", "1.0", None),
        ("INITIATED", "first-fw", "1.0", None),
        ("DOWNLOADING", "first-fw", "1.0", None),
        ("FAILED", "first-fw", "1.0", "no space"),
        ("QUEUED", "second-fw", "2.0", None),
        ("INITIATED", "second-fw", "2.0", None),
        ("DOWNLOADING", "second-fw", "2.0", None),
    ]


def test_dashboard_counts_and_tabs(paced: Start) -> None:
    _, tenant = paced(100, 1000)
    profile_id, devices = profile_with_devices(tenant, 4)
    pkg = package(tenant, profile_id)
    assign_profile(tenant, profile_id, pkg)
    wait_for(lambda: all(initiated(tenant, d["id"]["id"]) for d in devices), 10)
    tokens = [token_of(tenant, d) for d in devices]
    report(tenant, tokens[0], {"fw_state": "DOWNLOADING"})
    report(tenant, tokens[1], {"fw_state": "FAILED", "fw_error": "checksum mismatch"})
    report(
        tenant,
        tokens[2],
        {
            "fw_state": "UPDATED",
            "current_fw_title": pkg["title"],
            "current_fw_version": pkg["version"],
        },
    )
    expected = {"waiting": 0, "updating": 2, "updated": 1, "failed": 1, "total": 4}
    assert counts(tenant) == expected
    assert counts(tenant, deviceProfileId=profile_id) == expected
    assert counts(tenant, otaPackageId=pkg["id"]["id"]) == expected
    assert counts(tenant, type="SOFTWARE")["total"] == 0
    failed = tenant.api.get(
        "/api/ota/dashboard/devices", params={"pageSize": 10, "page": 0, "tab": "failed"}
    )["data"]
    assert [(r["deviceName"], r["error"], r["progress"]) for r in failed] == [
        (devices[1]["name"], "checksum mismatch", 99)
    ]
    updating = tenant.api.get(
        "/api/ota/dashboard/devices", params={"pageSize": 10, "page": 0, "tab": "updating"}
    )
    assert updating["totalElements"] == 2
    assert {r["progress"] for r in updating["data"]} == {5, 10}


def test_a_stuck_device_fails_and_is_retried(paced: Start) -> None:
    _, tenant = paced(
        100, 1000, OTAKIT_OTA_STUCK_TIMEOUTS="INITIATED=1", OTAKIT_OTA_MAX_RETRIES="1"
    )
    profile_id, (device,) = profile_with_devices(tenant, 1)
    pkg = package(tenant, profile_id)
    tenant.api.post("/api/device", {**device, "firmwareId": pkg["id"]})
    device_id = device["id"]["id"]

    def seen() -> list[str]:
        return [v for _, v in states(tenant, device_id)]

    wait_for(lambda: seen().count("FAILED") == 2, 20, "two FAILED")
    assert seen() == ["QUEUED", "INITIATED", "FAILED", "QUEUED", "INITIATED", "FAILED"]
    errors = [v for _, v in states(tenant, device_id, "fw_error")]
    assert errors == ["stuck in INITIATED for more than 1 s"] * 2
    [row] = tenant.api.get(
        "/api/ota/dashboard/devices", params={"pageSize": 10, "page": 0, "tab": "failed"}
    )["data"]
    assert row["retries"] == 1 and row["error"].startswith("stuck in INITIATED")
    # Retries used up: it stays FAILED.
    assert seen().count("QUEUED") == 2


def test_a_retry_is_not_sent_to_a_device_that_went_on_by_itself(paced: Start) -> None:
    # Found by the simulator's stall fault: a device silent past the stuck timeout is marked
    # FAILED and queued again; when it then finishes before the queue's pace lets the retry
    # out, the retry must not turn its UPDATED back into INITIATED.
    _, tenant = paced(1, 6000, OTAKIT_OTA_STUCK_TIMEOUTS="DOWNLOADING=1")
    profile_id, (device,) = profile_with_devices(tenant, 1)
    pkg = package(tenant, profile_id)
    tenant.api.post("/api/device", {**device, "firmwareId": pkg["id"]})
    device_id, token = device["id"]["id"], token_of(tenant, device)

    def seen() -> list[str]:
        return [v for _, v in states(tenant, device_id)]

    wait_for(lambda: "INITIATED" in seen(), 20, "INITIATED")
    announced = title_written_at(tenant, device_id)
    report(tenant, token, {"fw_state": "DOWNLOADING"})
    wait_for(lambda: seen()[-2:] == ["FAILED", "QUEUED"], 20, "FAILED and queued again")
    for state in ("DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED"):
        report(tenant, token, {"fw_state": state})
    time.sleep(7)  # past the next pack interval (6 s), when the queue would send the retry
    retried = seen()
    assert retried[-1] == "UPDATED", retried
    assert retried.count("INITIATED") == 1, retried
    # Its attributes announced the package already: not written (and pushed) again.
    assert title_written_at(tenant, device_id) == announced


def test_a_device_that_found_its_package_first_still_gets_the_attributes(paced: Start) -> None:
    # The second device's record waits a pack interval; meanwhile the device reports on the
    # package (it downloaded what it was assigned). No INITIATED then, but the attributes must
    # come all the same, or they would never announce its assignment.
    _, tenant = paced(1, 4000)
    profile_id, devices = profile_with_devices(tenant, 2)
    pkg = package(tenant, profile_id)
    assign_profile(tenant, profile_id, pkg)
    wait_for(lambda: any(initiated(tenant, d["id"]["id"]) for d in devices), 10, "the first")
    waiting = next(d for d in devices if not initiated(tenant, d["id"]["id"]))
    report(tenant, token_of(tenant, waiting), {"fw_state": "DOWNLOADING"})
    device_id = waiting["id"]["id"]
    wait_for(lambda: shared(tenant, device_id).get("fw_title") == pkg["title"], 20, "announced")
    assert [v for _, v in states(tenant, device_id)] == ["QUEUED", "DOWNLOADING"]
    assert shared(tenant, device_id)["fw_checksum"] == pkg["checksum"]


def title_written_at(tenant: TenantContext, device_id: str) -> int:
    attributes = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes/SHARED_SCOPE",
        params={"keys": "fw_title"},
    )
    return int(attributes[0]["lastUpdateTs"])
