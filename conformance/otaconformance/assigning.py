"""Helpers of the assignment, queue and state checks: what a device downloads, what the server
wrote for it."""

from __future__ import annotations

import itertools
from typing import Any

from otaclient import protocol as wire

from .devices import ChunkRefused, CoapDevice, HttpDevice, MqttDevice, code_text
from .rules import Transport
from .target import Entity, Kind, Target

# Fresh MQTT request ids: a request id stays bound to the package of its first request (§6.2).
_request_ids = itertools.count(1)
MQTT_VERSIONS = {Transport.MQTT3: 3, Transport.MQTT5: 5}
DEVICE_STATES = ("DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED", "FAILED")


def downloaded(
    target: Target, transport: Transport, token: str, kind: Kind, asked: Entity
) -> bytes | None:
    """What the device gets when it downloads its `kind` package whole, or None if refused.

    Over HTTP and CoAP it names `asked` (title and version, checked by the server); MQTT names no
    package (§6.2): the server sends the effective one."""
    if transport is Transport.HTTP:
        with HttpDevice(target.url, token) as http:
            response = http.get(kind.path, title=asked["title"], version=asked["version"])
        return response.content if response.status_code == 200 else None
    if transport is Transport.COAP:
        with CoapDevice(target.coap_host, target.coap_port, token) as coap:
            path = f"/{kind.prefix}/{token}?title={asked['title']}&version={asked['version']}"
            message = coap.get(path)
        return bytes(message.payload) if code_text(message) == "2.05" else None
    version = MQTT_VERSIONS[transport]
    with MqttDevice(target.mqtt_host, target.mqtt_port, token, version) as mqtt:
        mqtt.subscribe(wire.OTA_ERROR_TOPIC)  # software's errors come there too (§6.2)
        try:
            return mqtt.chunk(next(_request_ids), 0, 0, kind.prefix)
        except ChunkRefused:
            return None


def queued(target: Target, device_id: str, kind: Kind) -> list[int]:
    """The timestamps of the device's QUEUED states."""
    return [ts for ts, value in target.telemetry(device_id, kind.state) if value == "QUEUED"]


def target_titles(target: Target, device_id: str, kind: Kind) -> list[Any]:
    return [value for _, value in target.telemetry(device_id, f"target_{kind.key('title')}")]


def timeseries_keys(target: Target, device_id: str) -> list[str]:
    found = target.call("GET", f"/api/plugins/telemetry/DEVICE/{device_id}/keys/timeseries")
    return list(found or [])


def shared_with_ts(target: Target, device_id: str) -> dict[str, tuple[Any, int]]:
    """The shared attributes: key -> (value, lastUpdateTs)."""
    found = target.call(
        "GET", f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes/SHARED_SCOPE"
    )
    return {item["key"]: (item["value"], item["lastUpdateTs"]) for item in found or []}


def kind_keys(shared: dict[str, Any], kind: Kind) -> dict[str, Any]:
    """The shared attributes of `kind` (fw_*, sw_*)."""
    return {key: value for key, value in shared.items() if key.startswith(kind.prefix + "_")}


def announcement(package: Entity, kind: Kind) -> dict[str, Any]:
    """The §2.1 shared attributes of a binary package."""
    announced = {
        kind.key("title"): package["title"],
        kind.key("version"): package["version"],
        kind.key("size"): package["dataSize"],
        kind.key("checksum"): package["checksum"],
        kind.key("checksum_algorithm"): package["checksumAlgorithm"],
    }
    if package.get("tag"):
        announced[kind.key("tag")] = package["tag"]
    return announced


def report_current(target: Target, token: str, kind: Kind, package: Entity) -> None:
    """The device says it runs `package` (current_fw_title and current_fw_version, §2.3)."""
    with HttpDevice(target.url, token) as http:
        response = http.post(
            "telemetry",
            {
                f"current_{kind.key('title')}": package["title"],
                f"current_{kind.key('version')}": package["version"],
            },
        )
    assert response.status_code == 200, f"telemetry: {response.status_code}"


def series(target: Target, device_id: str, keys: list[str]) -> dict[str, list[Any]]:
    """The values of several time series of a device, oldest first, in one call."""
    found = target.call(
        "GET",
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries",
        params={
            "keys": ",".join(keys),
            "startTs": 0,
            "endTs": 4_000_000_000_000,
            "limit": 10000,
            "orderBy": "ASC",
        },
    )
    return {key: [point["value"] for point in (found or {}).get(key, [])] for key in keys}
