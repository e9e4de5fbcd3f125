"""Spec §6.2 to §6.4: errors for a bad token, nothing assigned, a URL package, a mismatch,
malformed parameters and an oversized chunk, on every transport."""

from __future__ import annotations

import uuid

import aiocoap
import pytest
from otaclient import protocol as wire

from otaconformance.devices import ChunkRefused, CoapDevice, HttpDevice, MqttDevice, code_text
from otaconformance.target import Target, rule


def mqtt_error(target: Target, token: str, size: int) -> tuple[str | None, bool]:
    """The text on v2/fw/error after a chunk request, and whether the server then disconnected."""
    with MqttDevice(target.mqtt_host, target.mqtt_port, token) as mqtt:
        mqtt.subscribe(wire.OTA_ERROR_TOPIC)
        try:
            mqtt.chunk(1, 0, size)
            error = None
        except ChunkRefused as refused:
            error = refused.text
        return error, mqtt.closed.wait(10)


def test_bad_token(target: Target) -> None:
    token = "no-such-" + uuid.uuid4().hex
    with HttpDevice(target.url, token) as http:
        download = http.get("firmware", title="t", version="v").status_code
        telemetry = http.post("telemetry", {"fw_state": "DOWNLOADING"}).status_code
    assert (download, telemetry) == (401, 401), rule(
        "§6.3", f"an unknown token gets 401, got {download} and {telemetry}"
    )
    with MqttDevice(target.mqtt_host, target.mqtt_port, token) as mqtt:
        assert not mqtt.accepted, rule("§6.2", "an unknown token gets a refused CONNACK")
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        code = code_text(coap.get(f"/fw/{token}"))
    assert code == "4.01", rule("§6.4", f"an unknown token gets 4.01, got {code}")


def test_nothing_assigned(target: Target, profile: str) -> None:
    _, token = target.device(profile)
    with HttpDevice(target.url, token) as http:
        status = http.get("firmware", title="t", version="v").status_code
    assert status == 404, rule("§6.3", f"nothing assigned: 404, got {status}")
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        code = code_text(coap.get(f"/fw/{token}"))
    assert code == "4.04", rule("§6.4", f"nothing assigned: 4.04, got {code}")
    error, closed = mqtt_error(target, token, 100)
    assert error == "NOT_FOUND", rule(
        "§6.2", f"nothing assigned: NOT_FOUND on v2/fw/error, got {error}"
    )
    assert closed, rule("§6.2", "after an error on v2/fw/error the server disconnects")


def test_url_package_is_not_served(target: Target, profile: str) -> None:
    package = target.url_package(profile)
    _, token = target.device(profile, firmwareId=package["id"])
    with HttpDevice(target.url, token) as http:
        status = http.get(
            "firmware", title=package["title"], version=package["version"]
        ).status_code
    assert status == 404, rule("§6.3", f"a URL package is fetched from its URL: 404, got {status}")
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        code = code_text(coap.get(f"/fw/{token}"))
    assert code == "4.04", rule("§6.4", f"a URL package is fetched from its URL: 4.04, got {code}")
    error, _ = mqtt_error(target, token, 100)
    assert error == "FAILURE", rule("§6.2", f"a URL package: FAILURE on v2/fw/error, got {error}")


@pytest.mark.parametrize("wrong", ["title", "version", "case"])
def test_title_or_version_mismatch(target: Target, profile: str, wrong: str) -> None:
    package = target.package(profile, b"m" * 100, title=f"Mixed-{uuid.uuid4().hex[:6]}")
    _, token = target.device(profile, firmwareId=package["id"])
    asked = {"title": package["title"], "version": package["version"]}
    if wrong == "case":
        asked["title"] = asked["title"].lower()
    else:
        asked[wrong] = "not-" + asked[wrong]
    with HttpDevice(target.url, token) as http:
        status = http.get("firmware", **asked).status_code
    assert status == 400, rule(
        "§6.3", f"a {wrong} that is not the assigned one (case-sensitive) gets 400, got {status}"
    )
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        code = code_text(coap.get(f"/fw/{token}?title={asked['title']}&version={asked['version']}"))
    assert code == "4.00", rule("§6.4", f"a {wrong} mismatch gets 4.00, got {code}")


@pytest.mark.parametrize("malformed", ["no title", "no version", "bad size"])
def test_malformed_http_download(target: Target, profile: str, malformed: str) -> None:
    package = target.package(profile, b"p" * 100)
    _, token = target.device(profile, firmwareId=package["id"])
    params = {"title": package["title"], "version": package["version"]}
    if malformed == "bad size":
        params["size"] = "many"
    else:
        del params[malformed.removeprefix("no ")]
    with HttpDevice(target.url, token) as http:
        status = http.get("firmware", **params).status_code
    assert status == 400, rule("§6.3", f"{malformed}: a download gets 400, got {status}")


def test_oversized_chunk(target: Target, profile: str) -> None:
    package = target.package(profile, b"o" * 100)
    _, token = target.device(profile, firmwareId=package["id"])
    error, closed = mqtt_error(target, token, target.mqtt_max_chunk + 1)
    assert error == "PAYLOAD_TOO_LARGE", rule(
        "§6.2", f"a chunk larger than the maximum gets PAYLOAD_TOO_LARGE, got {error}"
    )
    assert closed, rule("§6.2", "after an error on v2/fw/error the server disconnects")


def test_coap_download_is_get_only(target: Target, profile: str) -> None:
    package = target.package(profile, b"g" * 100)
    _, token = target.device(profile, firmwareId=package["id"])
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        code = code_text(coap.request(aiocoap.POST, f"/fw/{token}", b"x"))
    assert code == "4.05", rule("§6.4", f"only GET downloads: POST gets 4.05, got {code}")
