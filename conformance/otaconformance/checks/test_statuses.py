"""Spec §2.3, §3 and §8: devices report their states on every transport; the history keeps them,
in order, for firmware and software."""

from __future__ import annotations

from typing import Any

import pytest
from otaclient import protocol as wire

from otaconformance.devices import Device, HttpDevice, Posted, open_device
from otaconformance.rules import TRANSPORTS, Transport
from otaconformance.target import KINDS, Kind, Target, rule

# What a device reports on the way to UPDATED: a state the server does not know (the SDKs' IDLE),
# any other string, and a failure.
REPORTS = [
    "DOWNLOADING",
    "DOWNLOADED",
    "VERIFIED",
    "IDLE",
    "rebooting, soon",
    "FAILED",
    "UPDATING",
    "UPDATED",
]
ERROR_TEXT = "checksum mismatch"
kinds = pytest.mark.parametrize("kind", KINDS, ids=str)
transports = pytest.mark.parametrize("transport", TRANSPORTS, ids=str)


def check_posted(posted: Posted, transport: Transport) -> None:
    if transport is Transport.HTTP:
        assert (posted.status, posted.body) == ("200", b""), rule(
            "telemetry.http-post", f"got {posted.status} with {posted.body[:100]!r}"
        )
    elif transport is Transport.COAP:
        assert posted.status in ("2.01", "2.03"), rule(
            "telemetry.coap-post", f"got {posted.status}"
        )
    else:
        assert posted.status == "published", rule("telemetry.mqtt-publish", posted.status)


def report(device: Device, kind: Kind, base: int, package: dict[str, Any]) -> None:
    """REPORTS, as {ts, values} at base + 1, 2, ...; two of them as one array; UPDATED as a flat
    object (at the server's time, later than any)."""
    bodies: list[Any] = []
    for offset, state in enumerate(REPORTS, start=1):
        values: dict[str, Any] = {kind.state: state}
        if state == "FAILED":
            values[wire.error_key(kind.prefix)] = ERROR_TEXT
        if state == "UPDATED":
            values[wire.current_title_key(kind.prefix)] = package["title"]
            values[wire.current_version_key(kind.prefix)] = package["version"]
            bodies.append(values)
        else:
            bodies.append({"ts": base + offset, "values": values})
    together = REPORTS.index("DOWNLOADED")  # DOWNLOADED and VERIFIED in one array
    bodies[together : together + 2] = [bodies[together : together + 2]]
    for body in bodies:
        check_posted(device.post_telemetry(body), device.transport)


@pytest.mark.rules(
    "status.history-order",
    "telemetry.http-post",
    "telemetry.coap-post",
    "telemetry.mqtt-publish",
    "telemetry.shapes",
    "telemetry.current-kept",
    "telemetry.error-kept",
    "naming.device-telemetry-keys",
)
@kinds
@transports
def test_reported_states_are_kept_in_order(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    package = target.package(profile, b"s" * 100, kind=kind)
    device, token = target.device(profile, **{kind.field: package["id"]})
    device_id = device["id"]["id"]
    target.notified(device_id, package)
    base = target.telemetry(device_id, kind.state)[-1][0]
    with open_device(target, transport, token) as reporting:
        report(reporting, kind, base, package)
    target.wait(lambda: target.telemetry(device_id, kind.state)[-1][1] == "UPDATED", "UPDATED")
    points = [(ts, value) for ts, value in target.telemetry(device_id, kind.state) if ts > base]
    history = [value for _, value in points]
    assert history == REPORTS, rule("status.history-order", f"{transport.value}, {kind}: {history}")
    stamps = [ts for ts, _ in points[:-1]]
    assert stamps == [base + offset for offset in range(1, len(REPORTS))], rule(
        "telemetry.shapes", f"{transport.value}, {kind}: {{ts, values}} kept at its ts: {stamps}"
    )
    errors = target.telemetry(device_id, wire.error_key(kind.prefix))
    assert errors == [(base + REPORTS.index("FAILED") + 1, ERROR_TEXT)], rule(
        "telemetry.error-kept", f"{transport.value}, {kind}: {errors}"
    )
    keys = (wire.current_title_key(kind.prefix), wire.current_version_key(kind.prefix))
    current = [(target.telemetry(device_id, key) or [(0, None)])[-1][1] for key in keys]
    assert current == [package["title"], package["version"]], rule(
        "telemetry.current-kept",
        f"{transport.value}, {kind}: {dict(zip(keys, current, strict=True))}",
    )


@pytest.mark.otakit_extension
@pytest.mark.rules("status.history-api", "status.dashboard-counts")
@kinds
def test_otakit_history_and_dashboard(target: Target, profile: str, kind: Kind) -> None:
    package = target.package(profile, b"d" * 100, kind=kind)
    device, token = target.device(profile, **{kind.field: package["id"]})
    target.notified(device["id"]["id"], package)
    filters = {"otaPackageId": package["id"]["id"], "type": kind.type}
    counts = target.call("GET", "/api/ota/dashboard/counts", params=filters)
    assert counts["updating"] == 1, rule("status.dashboard-counts", f"{kind}: INITIATED {counts}")
    with HttpDevice(target.url, token) as http:
        http.post("telemetry", {kind.state: "FAILED", wire.error_key(kind.prefix): "no space"})
    history = target.call(
        "GET", f"/api/ota/device/{device['id']['id']}/history", params={"type": kind.type}
    )
    assert [entry["status"] for entry in history] == ["QUEUED", "INITIATED", "FAILED"], rule(
        "status.history-api", f"{kind}: {history}"
    )
    counts = target.call("GET", "/api/ota/dashboard/counts", params=filters)
    assert (counts["updating"], counts["failed"]) == (0, 1), rule(
        "status.dashboard-counts", f"{kind}: FAILED {counts}"
    )
