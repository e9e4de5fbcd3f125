"""Spec §2.1, §6.2 to §6.4: attribute pushes, requests and deletions on every transport."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest
from otaclient import protocol as wire

from otaconformance.devices import CoapDevice, HttpDevice, MqttDevice, code_text
from otaconformance.target import FIRMWARE, SOFTWARE, Entity, Kind, Target, rule

ANNOUNCED = ("title", "version", "size", "checksum", "checksum_algorithm")
POLL_MS = 20_000  # one long poll's timeout; well inside the HTTP client's
DELETION_WAIT = 5  # seconds: a deletion is pushed at once


def announcement(package: Entity, kind: Kind) -> dict[str, Any]:
    """The shared attributes that announce a binary package without a tag (spec §2.1)."""
    return {
        kind.key("title"): package["title"],
        kind.key("version"): package["version"],
        kind.key("size"): package["dataSize"],
        kind.key("checksum"): package["checksum"],
        kind.key("checksum_algorithm"): package["checksumAlgorithm"],
    }


def first_with(updates: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The first update that carries `key`; a deletion of stale keys may come before it."""
    return next((update for update in updates if key in update), {})


def check_deleted(update: dict[str, Any] | None, kind: Kind, transport: str) -> None:
    assert update is not None, rule("§2.1", f"unassignment tells the device ({transport})")
    deleted = set(update.get("deleted", []))
    missing = {kind.key(suffix) for suffix in ANNOUNCED} - deleted
    assert not missing, rule(
        "§2.1", f"unassignment pushes {{deleted: [...]}} naming every key ({transport}): {update}"
    )


@pytest.mark.parametrize(
    ("version", "kind"),
    [(5, FIRMWARE), (3, FIRMWARE), (5, SOFTWARE)],
    ids=["mqtt5-fw", "mqtt3-fw", "mqtt5-sw"],
)
def test_mqtt_push_request_and_deletion(
    target: Target, profile: str, version: int, kind: Kind
) -> None:
    package = target.package(profile, b"push" * 256, kind=kind)
    device, token = target.device(profile)
    with MqttDevice(target.mqtt_host, target.mqtt_port, token, version) as mqtt:
        mqtt.subscribe(wire.ATTRIBUTES_TOPIC)
        mqtt.subscribe(wire.ATTRIBUTES_RESPONSE_FILTER)
        target.assign(device, package)
        updates: list[dict[str, Any]] = []
        while not first_with(updates, kind.key("title")):
            update = mqtt.expect_json(wire.ATTRIBUTES_TOPIC, timeout=target.notify_timeout)
            assert update is not None, rule("§4.4", "the device is pushed its new attributes")
            updates.append(update)
        assert first_with(updates, kind.key("title")) == announcement(package, kind), rule(
            "§6.2", f"a push is flat JSON of the announced keys, fw_size a number: {updates}"
        )
        keys = [kind.key(suffix) for suffix in ANNOUNCED]
        answer = mqtt.attributes(7, keys)
        assert answer == {"shared": announcement(package, kind)}, rule(
            "§6.2", f"a request with comma-separated sharedKeys gets {{shared: ...}}: {answer}"
        )
        target.assign(device, None, kind)
        check_deleted(mqtt.expect_json(wire.ATTRIBUTES_TOPIC), kind, f"MQTT {version}")
    assert kind.key("title") not in target.shared(device["id"]["id"]), rule(
        "§2.1", "unassignment deletes the shared attributes"
    )


def test_http_requests_and_long_poll(target: Target, profile: str) -> None:
    package = target.package(profile, b"poll" * 100)
    device, token = target.device(profile)
    with HttpDevice(target.url, token) as http:
        assert http.post("attributes", {"client_side": 7}).status_code == 200
        assign = partial(target.assign, device, package)
        updates = long_poll(http, assign, "fw_title", target.notify_timeout)
        assert first_with(updates, "fw_title") == announcement(package, FIRMWARE), rule(
            "§6.3", f"the long poll returns the pushed update, flat: {updates}"
        )
        both = http.get("attributes", clientKeys="client_side", sharedKeys="fw_title,fw_version")
        assert both.json() == {
            "client": {"client_side": 7},
            "shared": {"fw_title": package["title"], "fw_version": package["version"]},
        }, rule("§6.3", f"GET attributes answers {{client: ..., shared: ...}}: {both.text}")
        repeated = http.http.get(
            wire.http_path(token, "attributes"),
            params=[("sharedKeys", "fw_title"), ("sharedKeys", "fw_size")],
        )
        assert repeated.json().get("shared") == {
            "fw_title": package["title"],
            "fw_size": package["dataSize"],
        }, rule("§6.3", f"repeated sharedKeys parameters are joined: {repeated.text}")
        # A deletion is pushed at once, and a poll that is not yet waiting misses it (as on
        # ThingsBoard): give the poll longer to settle each time, announcing the package again.
        for settle in (0.5, 2, 5):
            unassign = partial(target.assign, device, None)
            updates = long_poll(http, unassign, "deleted", DELETION_WAIT, settle)
            if first_with(updates, "deleted"):
                break
            target.assign(device, package)
            target.notified(device["id"]["id"], package)
        check_deleted(first_with(updates, "deleted") or None, FIRMWARE, "HTTP long poll")


def long_poll(
    http: HttpDevice,
    action: Callable[[], object],
    until: str,
    timeout: float,
    settle: float = 0.5,
) -> list[dict[str, Any]]:
    """What long polls of attributes/updates return after `action`, up to an update with `until`.

    The first poll gets `settle` seconds to be waiting before the action.
    """
    results: queue.Queue[httpx.Response | BaseException] = queue.Queue()
    poll_ms = min(POLL_MS, int(timeout * 1000))

    def poll() -> None:
        try:
            results.put(http.get("attributes/updates", timeout=poll_ms))
        except BaseException as error:  # handed to the check, which fails with it
            results.put(error)

    deadline = time.monotonic() + timeout
    threading.Thread(target=poll, daemon=True).start()
    time.sleep(settle)
    action()
    updates: list[dict[str, Any]] = []
    while True:
        response = results.get(timeout=poll_ms / 1000 + 30)
        if isinstance(response, BaseException):
            raise response
        if response.status_code == 200 and response.content:
            updates.append(response.json())
        if first_with(updates, until) or time.monotonic() > deadline:
            return updates
        threading.Thread(target=poll, daemon=True).start()


def test_coap_request_and_observe(target: Target, profile: str) -> None:
    package = target.package(profile, b"observe" * 100)
    device, token = target.device(profile)
    path = f"/api/v1/{token}/attributes"
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        first, notifications = coap.observe(path)
        assert code_text(first) == "2.05", rule("§6.4", f"Observe=0 subscribes, got {first.code}")
        target.assign(device, package)
        updates: list[dict[str, Any]] = []
        deadline = time.monotonic() + target.notify_timeout
        while not first_with(updates, "fw_title") and time.monotonic() < deadline:
            try:
                updates.append(json.loads(notifications.get(timeout=1).payload))
            except queue.Empty:
                continue
        assert first_with(updates, "fw_title").get("fw_title") == package["title"], rule(
            "§6.4", f"an observer is notified of the new attributes, flat: {updates}"
        )
        answer = coap.get(f"{path}?sharedKeys=fw_title,fw_checksum")
        assert code_text(answer) == "2.05" and json.loads(answer.payload) == {
            "shared": {"fw_title": package["title"], "fw_checksum": package["checksum"]}
        }, rule("§6.4", f"GET attributes answers {{shared: ...}}: {answer.payload!r}")
        target.assign(device, None)
        try:
            deletion = json.loads(notifications.get(timeout=10).payload)
        except queue.Empty:
            deletion = None
        check_deleted(deletion, FIRMWARE, "CoAP observe")


def test_keys_of_the_previous_package_are_deleted(target: Target, profile: str) -> None:
    tagged = target.url_package(profile, tag="tagged")
    plain = target.package(profile, b"plain" * 10)
    device, _ = target.device(profile, firmwareId=tagged["id"])
    device_id = device["id"]["id"]
    target.notified(device_id, tagged)
    shared = target.shared(device_id)
    assert shared.get("fw_url") == tagged["url"] and shared.get("fw_tag") == "tagged", rule(
        "§2.1", f"a URL package announces fw_url (and fw_tag when tagged): {shared}"
    )
    assert "fw_size" not in shared and "fw_checksum" not in shared, rule(
        "§2.1", f"a URL package without size or checksum announces neither: {shared}"
    )
    target.assign(device, plain)
    target.notified(device_id, plain)
    shared = target.shared(device_id)
    assert "fw_url" not in shared and "fw_tag" not in shared, rule(
        "§2.1", f"keys the new package lacks (fw_url, fw_tag) are deleted: {shared}"
    )
