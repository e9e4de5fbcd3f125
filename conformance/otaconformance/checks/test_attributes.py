"""Spec §2.1, §6.2 to §6.4: attribute pushes, requests and deletions; on every transport that
pushes (MQTT subscription, CoAP observe, HTTP long poll), for firmware and software."""

from __future__ import annotations

import json
import socket
from typing import Any

import aiocoap
import httpx
import pytest
from otaclient import protocol as wire

from otaconformance.assigning import announcement
from otaconformance.devices import HttpDevice, HttpFacade, MqttFacade, open_device
from otaconformance.rules import TRANSPORTS, Transport
from otaconformance.target import KINDS, Kind, Target, rule

ANNOUNCED = ("title", "version", "size", "checksum", "checksum_algorithm")
# Spec §1 and §2.1: the nine key suffixes; unassignment deletes all nine shared keys, fw_ts and
# fw_state too (never written as attributes), and the push names each. Stated here from the
# spec, not taken from the server's own list, so that a wrong list on the server is caught.
SUFFIXES = (
    "title",
    "version",
    "ts",
    "state",
    "size",
    "checksum",
    "checksum_algorithm",
    "url",
    "tag",
)
DELETION_WAIT = 5  # seconds: a deletion is pushed at once
QUIET = 1.0  # seconds a request that must wait is watched for an early answer
kinds = pytest.mark.parametrize("kind", KINDS, ids=str)
transports = pytest.mark.parametrize("transport", TRANSPORTS, ids=str)


def first_with(updates: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The first update that carries `key`; a deletion of stale keys may come before it."""
    return next((update for update in updates if key in update), {})


def deleted(updates: list[dict[str, Any]]) -> set[str]:
    return {key for update in updates for key in update.get("deleted", [])}


def check_deleted(updates: list[dict[str, Any]], kind: Kind, transport: Transport) -> None:
    assert first_with(updates, "deleted"), rule(
        "attribute.deleted-on-unassign", f"unassignment told nothing ({transport.value}, {kind})"
    )
    missing = {kind.key(suffix) for suffix in SUFFIXES} - deleted(updates)
    assert not missing, rule(
        "attribute.deleted-on-unassign",
        f"{{deleted: [...]}} must name every key ({transport.value}), missing {missing}: {updates}",
    )


@pytest.mark.rules(
    "attribute.push-flat",
    "attribute.push-types",
    "attribute.deleted-on-unassign",
    "attribute.request-answer",
    "attribute.request-section-left-out",
    "attribute.mqtt-request-topics",
    "attribute.http-repeated-keys",
    "attribute.coap-observe",
    "naming.attribute-keys",
)
@kinds
@transports
def test_push_request_and_deletion(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    package = target.package(profile, b"push" * 256, kind=kind)
    device, token = target.device(profile)
    title = kind.key("title")
    keys = [kind.key(suffix) for suffix in ANNOUNCED]
    expected = announcement(package, kind)
    with open_device(target, transport, token) as dev:
        watching = dev.watch()
        if transport is Transport.COAP:
            assert watching == "2.05", rule("attribute.coap-observe", f"Observe=0 got {watching}")
        posted = dev.post_attributes({"client_side": 7})
        if transport is Transport.HTTP:
            assert posted.status == "200", rule("attribute.request-answer", "client attributes")
        target.assign(device, package)
        updates = dev.updates(lambda found: bool(first_with(found, title)), target.notify_timeout)
        pushed = first_with(updates, title)
        assert pushed, rule("attribute.push-flat", f"no push ({transport.value}): {updates}")
        assert all(key.startswith(f"{kind.prefix}_") for key in pushed), rule(
            "naming.attribute-keys", f"{transport.value}: {sorted(pushed)}"
        )
        assert pushed == expected, rule(
            "attribute.push-flat", f"{transport.value}, {kind}: expected {expected}, got {updates}"
        )
        size, algorithm = pushed[kind.key("size")], pushed[kind.key("checksum_algorithm")]
        assert type(size) is int and algorithm == "SHA256", rule(
            "attribute.push-types", f"{transport.value}: size {size!r}, algorithm {algorithm!r}"
        )
        if isinstance(dev, MqttFacade):
            answer = dev.request_attributes(keys, ["client_side"], request_id=7)
            granted = dev.granted[wire.ATTRIBUTES_RESPONSE_FILTER]
            assert not any(code.is_failure for code in granted), rule(
                "attribute.mqtt-request-topics",
                f"{transport.value}: SUBACK of {wire.ATTRIBUTES_RESPONSE_FILTER}: {granted}",
            )
        else:
            answer = dev.request_attributes(keys, ["client_side"])
        assert answer == {"client": {"client_side": 7}, "shared": expected}, rule(
            "attribute.request-answer"
            if transport is not Transport.MQTT3 and transport is not Transport.MQTT5
            else "attribute.mqtt-request-topics",
            f"{transport.value}, {kind}: {answer}",
        )
        shared_only = dev.request_attributes(keys[:2])
        assert shared_only == {"shared": {key: expected[key] for key in keys[:2]}}, rule(
            "attribute.request-section-left-out", f"{transport.value}, {kind}: {shared_only}"
        )
        if isinstance(dev, HttpFacade):
            repeated = dev.raw.http.get(
                wire.http_path(token, "attributes"),
                params=[("sharedKeys", title), ("sharedKeys", kind.key("size"))],
            )
            assert repeated.json().get("shared") == {
                title: package["title"],
                kind.key("size"): package["dataSize"],
            }, rule("attribute.http-repeated-keys", f"{kind}: {repeated.text}")
        target.assign(device, None, kind)
        updates = dev.updates(lambda found: bool(first_with(found, "deleted")), DELETION_WAIT)
        check_deleted(updates, kind, transport)
    assert title not in target.shared(device["id"]["id"]), rule(
        "attribute.deleted-on-unassign", "the shared attributes are still there"
    )


@pytest.mark.rules("attribute.deleted-stale-keys", "attribute.url-package-keys")
@kinds
@transports
def test_keys_of_the_previous_package_are_deleted(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    tagged = target.url_package(profile, kind, tag="tagged")
    plain = target.package(profile, b"plain" * 10, kind=kind)
    device, token = target.device(profile, **{kind.field: tagged["id"]})
    device_id = device["id"]["id"]
    target.notified(device_id, tagged)
    shared = target.shared(device_id)
    url, tag = kind.key("url"), kind.key("tag")
    assert shared.get(url) == tagged["url"] and shared.get(tag) == "tagged", rule(
        "attribute.url-package-keys", f"{kind}: {shared}"
    )
    assert kind.key("size") not in shared and kind.key("checksum") not in shared, rule(
        "attribute.url-package-keys", f"{kind}: announced a size or checksum: {shared}"
    )
    stale = {url, tag}
    with open_device(target, transport, token) as dev:
        dev.watch()
        target.assign(device, plain)
        # The deletion comes before the new attributes (the poll after it may miss them, HTTP).
        updates = dev.updates(
            lambda found: stale <= deleted(found) or bool(first_with(found, kind.key("title"))),
            target.notify_timeout,
        )
    target.notified(device_id, plain)
    shared = target.shared(device_id)
    assert not stale & set(shared), rule(
        "attribute.deleted-stale-keys", f"{kind}: still there: {shared}"
    )
    assert stale <= deleted(updates), rule(
        "attribute.deleted-stale-keys", f"{transport.value}, {kind}: pushed {updates}"
    )


@pytest.mark.otakit_extension
@pytest.mark.rules("attribute.http-long-poll-default", transports=[Transport.HTTP])
def test_long_poll_waits_by_default(target: Target, profile: str) -> None:
    _, token = target.device(profile)
    with HttpDevice(target.url, token) as http:
        for params in ({"timeout": 0}, {}):
            try:
                early = http.http.get(
                    wire.http_path(token, "attributes/updates"), params=params, timeout=QUIET
                )
            except httpx.TimeoutException:
                continue
            raise AssertionError(
                rule(
                    "attribute.http-long-poll-default",
                    f"{params or 'no timeout'}: answered at once, {early.status_code}",
                )
            )


@pytest.mark.rules("attribute.coap-observe", transports=[Transport.COAP])
@kinds
def test_coap_observe_1_unsubscribes(target: Target, profile: str, kind: Kind) -> None:
    """Observe=0 then Observe=1 with the same token (raw CoAP: aiocoap picks its own tokens),
    then an assignment: no notification may come."""
    package = target.package(profile, b"unobserve" * 10, kind=kind)
    device, token = target.device(profile)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((target.coap_host, target.coap_port))
        sock.settimeout(10)

        def get(observe: int, mid: int) -> aiocoap.Message:
            message = aiocoap.Message(code=aiocoap.GET, observe=observe)
            message.mtype, message.mid, message.token = aiocoap.CON, mid, b"unobs"
            message.opt.uri_path = ("api", "v1", token, "attributes")
            sock.send(message.encode())
            while True:  # an empty ACK first means the response comes separately
                answer = aiocoap.Message.decode(sock.recv(4096))
                if answer.code != aiocoap.EMPTY:
                    return answer

        registered, cancelled = get(0, 0x1001), get(1, 0x1002)
        assert registered.opt.observe is not None, rule(
            "attribute.coap-observe", f"Observe=0 registered no observation: {registered}"
        )
        assert cancelled.opt.observe is None, rule(
            "attribute.coap-observe", f"Observe=1 answered as a notification: {cancelled}"
        )
        target.assign(device, package)
        target.notified(device["id"]["id"], package)
        sock.settimeout(QUIET)
        try:
            late = aiocoap.Message.decode(sock.recv(4096))
        except TimeoutError:
            return
        notified = kind.key("title") in json.loads(late.payload or b"{}")
        assert not notified, rule("attribute.coap-observe", f"notified after Observe=1: {late}")
