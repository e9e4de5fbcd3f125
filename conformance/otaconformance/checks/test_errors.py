"""Spec §6.2 to §6.4: errors for a bad token, nothing assigned, a URL package, a mismatch,
malformed parameters and an oversized chunk; on every transport, for firmware and software."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import aiocoap
import pytest
from otaclient import protocol as wire

from otaconformance.devices import CoapDevice, HttpDevice, MqttFacade, code_text, open_device
from otaconformance.rules import MQTT, TRANSPORTS, Transport
from otaconformance.target import KINDS, Kind, Target, rule

kinds = pytest.mark.parametrize("kind", KINDS, ids=str)
transports = pytest.mark.parametrize("transport", TRANSPORTS, ids=str)
ANY_PACKAGE = {"title": "t", "version": "v"}  # what HTTP must send; CoAP and MQTT send none


def download_error(
    target: Target, transport: Transport, token: str, kind: Kind, size: int = 100
) -> tuple[str, bool]:
    """How a download fails: the HTTP status, CoAP code or text on v2/fw/error; and, over MQTT,
    whether the server then disconnected."""
    with open_device(target, transport, token) as device:
        if isinstance(device, MqttFacade):
            device.raw.subscribe(wire.OTA_ERROR_TOPIC)
            return device.fetch(kind, None, size).status, device.raw.closed.wait(10)
        package = ANY_PACKAGE if transport is Transport.HTTP else None
        return device.fetch(kind, package, size).status, True


def expected(transport: Transport, http: str, coap: str, mqtt: str) -> str:
    return {Transport.HTTP: http, Transport.COAP: coap}.get(transport, mqtt)


@pytest.mark.rules("error.bad-token")
@transports
def test_bad_token(target: Target, transport: Transport) -> None:
    token = "no-such-" + uuid.uuid4().hex
    if transport is Transport.HTTP:
        with HttpDevice(target.url, token) as http:
            download = http.get("firmware", title="t", version="v").status_code
            chunk = http.get("firmware", title="t", version="v", size=100, chunk=0).status_code
            telemetry = http.post("telemetry", {"fw_state": "DOWNLOADING"}).status_code
        assert (download, chunk, telemetry) == (401, 401, 401), rule(
            "error.bad-token",
            f"HTTP: got {download} (download), {chunk} (a chunk) and {telemetry} (telemetry)",
        )
    elif transport is Transport.COAP:
        with CoapDevice(target.coap_host, target.coap_port, token) as coap:
            code = code_text(coap.get(f"/fw/{token}"))
        assert code == "4.01", rule("error.bad-token", f"CoAP: got {code}")
    else:
        with open_device(target, transport, token) as device:
            assert isinstance(device, MqttFacade)
            assert not device.raw.accepted, rule(
                "error.bad-token", f"{transport.value}: the CONNACK accepted it"
            )


@pytest.mark.rules("error.nothing-assigned", "error.mqtt-error-topic")
@kinds
@transports
def test_nothing_assigned(target: Target, profile: str, transport: Transport, kind: Kind) -> None:
    _, token = target.device(profile)
    error, closed = download_error(target, transport, token, kind)
    want = expected(transport, "404", "4.04", "NOT_FOUND")
    assert error == want, rule("error.nothing-assigned", f"{transport.value}, {kind}: got {error}")
    assert closed, rule("error.mqtt-error-topic", f"{transport.value}: no disconnect")


@pytest.mark.rules("error.url-package")
@kinds
@transports
def test_url_package_is_not_served(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    package = target.url_package(profile, kind)
    _, token = target.device(profile, **{kind.field: package["id"]})
    if transport is Transport.HTTP:
        with open_device(target, transport, token) as device:
            errors = {"whole": device.fetch(kind, package).status}
            errors["chunk"] = device.fetch(kind, package, 100).status
    else:
        errors = {"chunk": download_error(target, transport, token, kind)[0]}
    want = expected(transport, "404", "4.04", "FAILURE")
    assert errors == dict.fromkeys(errors, want), rule(
        "error.url-package", f"{transport.value}, {kind}: got {errors}"
    )


def mismatches(package: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A wrong title, a wrong version, and the title in other case."""
    right = {"title": package["title"], "version": package["version"]}
    return {
        "title": {**right, "title": "not-" + right["title"]},
        "version": {**right, "version": "not-" + right["version"]},
        "case": {**right, "title": right["title"].lower()},
    }


@pytest.mark.rules("error.title-version-mismatch")
@kinds
@pytest.mark.parametrize("transport", [Transport.HTTP, Transport.COAP], ids=str)
def test_title_or_version_mismatch(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    package = target.package(profile, b"m" * 100, kind=kind, title=f"Mixed-{uuid.uuid4().hex[:6]}")
    _, token = target.device(profile, **{kind.field: package["id"]})
    with open_device(target, transport, token) as device:
        got = {
            (wrong, size): device.fetch(kind, asked, size).status
            for wrong, asked in mismatches(package).items()
            for size in (None, 10)  # the whole file, and a chunk
        }
    want = expected(transport, "400", "4.00", "")
    assert got == dict.fromkeys(got, want), rule(
        "error.title-version-mismatch",
        f"{transport.value}, {kind}: expected {want}, got {got}",
    )


@pytest.mark.rules("error.http-malformed", transports=[Transport.HTTP])
@kinds
def test_malformed_http_download(target: Target, profile: str, kind: Kind) -> None:
    package = target.package(profile, b"p" * 100, kind=kind)
    _, token = target.device(profile, **{kind.field: package["id"]})
    right = {"title": package["title"], "version": package["version"]}
    malformed = {
        "no title": {"version": right["version"]},
        "no version": {"title": right["title"]},
        "bad size": {**right, "size": "many"},
    }
    with HttpDevice(target.url, token) as http:
        got = {
            what: http.get(kind.path, **params).status_code for what, params in malformed.items()
        }
    assert got == dict.fromkeys(got, 400), rule("error.http-malformed", f"{kind}: {got}")


@pytest.mark.rules("error.mqtt-payload-too-large", "error.mqtt-error-topic")
@kinds
@pytest.mark.parametrize("transport", MQTT, ids=str)
def test_oversized_chunk(target: Target, profile: str, transport: Transport, kind: Kind) -> None:
    package = target.package(profile, b"o" * 100, kind=kind)
    _, token = target.device(profile, **{kind.field: package["id"]})
    for size in (target.mqtt_max_chunk + 1, 10**19):  # each on a connection of its own
        error, closed = download_error(target, transport, token, kind, size)
        assert error == "PAYLOAD_TOO_LARGE", rule(
            "error.mqtt-payload-too-large", f"{transport.value}, {kind}, size {size}: got {error}"
        )
        assert closed, rule("error.mqtt-error-topic", f"{transport.value}, {kind}: no disconnect")


@pytest.mark.rules("error.mqtt-malformed-size", "error.mqtt-error-topic")
@kinds
@pytest.mark.parametrize("transport", MQTT, ids=str)
def test_malformed_chunk_size(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    package = target.package(profile, b"m" * 100, kind=kind)
    _, token = target.device(profile, **{kind.field: package["id"]})
    for payload in (b"12a", b"\xff\xfe"):  # each on a connection of its own: the first closes
        with open_device(target, transport, token) as device:
            assert isinstance(device, MqttFacade)
            device.raw.subscribe(wire.OTA_ERROR_TOPIC)
            device.raw.publish(wire.chunk_request_topic(kind.prefix, 1, 0), payload)
            answer = wire.chunk_response_prefix(kind.prefix, 1) + "0"
            reply = device.raw.expect(wire.OTA_ERROR_TOPIC, answer)
            got = None if reply is None else (reply.topic, bytes(reply.payload)[:40])
            assert reply is not None and reply.topic == wire.OTA_ERROR_TOPIC, rule(
                "error.mqtt-malformed-size", f"{transport.value}, {kind}, {payload!r}: got {got}"
            )
            assert device.raw.closed.wait(10), rule(
                "error.mqtt-error-topic", f"{transport.value}, {kind}, {payload!r}: no disconnect"
            )


@pytest.mark.rules("error.coap-get-only", "error.coap-two-segments", transports=[Transport.COAP])
@kinds
def test_coap_download_path_and_method(target: Target, profile: str, kind: Kind) -> None:
    package = target.package(profile, b"g" * 100, kind=kind)
    _, token = target.device(profile, **{kind.field: package["id"]})
    path = f"/{kind.prefix}/{token}"
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        methods = {
            str(method): code_text(coap.request(method, path, b"x"))
            for method in (aiocoap.POST, aiocoap.PUT, aiocoap.DELETE)
        }
        longer = code_text(coap.get(f"{path}/extra"))
    assert methods == dict.fromkeys(methods, "4.05"), rule(
        "error.coap-get-only", f"{kind}: {methods}"
    )
    # ThingsBoard: 4.01 (its fw resource takes the token from a two-segment path or fails
    # auth); otakit: 4.04, no such resource. A refusal either way.
    assert longer in ("4.01", "4.04"), rule(
        "error.coap-two-segments", f"{kind}: {path}/extra got {longer}"
    )


@pytest.mark.otakit_extension
@pytest.mark.rules("error.coap-malformed", transports=[Transport.COAP])
@kinds
def test_coap_malformed_size_or_chunk(target: Target, profile: str, kind: Kind) -> None:
    package = target.package(profile, b"c" * 100, kind=kind)
    _, token = target.device(profile, **{kind.field: package["id"]})
    queries = ("size=ten", "size=10&chunk=one", "size=-1", "size=1e3")
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        got = {query: code_text(coap.get(f"/{kind.prefix}/{token}?{query}")) for query in queries}
    assert got == dict.fromkeys(got, "4.00"), rule("error.coap-malformed", f"{kind}: {got}")


@pytest.mark.otakit_extension
@pytest.mark.rules("error.nul-refused", transports=[Transport.HTTP, Transport.COAP])
@pytest.mark.parametrize("transport", [Transport.HTTP, Transport.COAP], ids=str)
def test_nul_is_refused(target: Target, profile: str, transport: Transport) -> None:
    package = target.package(profile, b"n" * 100)
    _, token = target.device(profile, firmwareId=package["id"])
    right = f"title={package['title']}&version={package['version']}"
    got: dict[str, tuple[object, object]]  # what was asked: (the answer, the one expected)
    if transport is Transport.HTTP:
        asked = {
            "a chunk, NUL in another parameter": (f"{token}/firmware?{right}&size=10&x=%00", 400),
            "the whole file, NUL in another parameter": (f"{token}/firmware?{right}&x=a%00", 400),
            "NUL in a key": (f"{token}/attributes?sharedKeys=fw_title,a%00b", 400),
            "NUL in the token": (f"{token}%00/firmware?{right}&size=10", 400),
        }
        with HttpDevice(target.url, token) as http:
            got = {
                what: (http.http.get(f"/api/v1/{path}").status_code, status)
                for what, (path, status) in asked.items()
            }
    else:
        coap_asked = {
            "NUL in a key": (f"/api/v1/{token}/attributes?sharedKeys=fw_title,a%00b", "4.00"),
            "NUL in the token": (f"/fw/{token}%00?size=10", "4.01"),
            "NUL in the token of the API path": (f"/api/v1/{token}%00/attributes", "4.01"),
        }
        with CoapDevice(target.coap_host, target.coap_port, token) as coap:
            got = {
                what: (code_text(coap.get(path)), code) for what, (path, code) in coap_asked.items()
            }
    wrong = {
        what: f"got {status}, expected {want}"
        for what, (status, want) in got.items()
        if status != want
    }
    assert not wrong, rule("error.nul-refused", f"{transport.value}: {wrong}")
