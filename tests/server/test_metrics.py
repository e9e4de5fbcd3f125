"""GET /metrics, scraped as Prometheus would while real devices connect, download and report."""

from __future__ import annotations

import math
import os
import threading
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TenantContext
from tests.support.api import entity_id
from tests.support.coap import CoapClient
from tests.support.dedicated import dedicated_server
from tests.support.devices import shared_attributes
from tests.support.mqtt import MqttDevice
from tests.support.ota import wait_for
from tests.support.process import ServerProcess

IMAGE = os.urandom(10_000)
CHUNK = 4096
# One device notified now, the next ones in ten minutes: the queue holds still while we look.
PACED = {"OTAKIT_QUEUE_PACK_SIZE": "1", "OTAKIT_QUEUE_PACK_INTERVAL_MS": "600000"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: ServerProcess) -> Samples:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


def connected(server: ServerProcess, transport: str) -> float:
    return value(scrape(server), "otakit_devices_connected", transport=transport)


def chunks(server: ServerProcess, transport: str) -> float:
    return value(scrape(server), "otakit_chunk_request_seconds_count", transport=transport)


def status(samples: Samples, name: str) -> float:
    return value(samples, "otakit_devices", type="firmware", status=name)


def _fleet_assigned(tenant: TenantContext) -> tuple[list[str], list[str], dict[str, str]]:
    """Three devices on a profile that gets a package: device ids, tokens, the package."""
    profile = tenant.api.create_profile(f"fleet-{uuid.uuid4().hex[:6]}")
    tokens = [f"metrics-{uuid.uuid4().hex}" for _ in range(3)]
    ids = [
        tenant.api.create_device(f"m-{i}-{uuid.uuid4().hex[:4]}", profile["id"]["id"], token)["id"][
            "id"
        ]
        for i, token in enumerate(tokens)
    ]
    package = tenant.api.create_package(profile["id"]["id"], "metered", "1.0")
    package = tenant.api.upload(package["id"]["id"], IMAGE)
    tenant.api.post(
        "/api/deviceProfile",
        {**profile, "firmwareId": entity_id("OTA_PACKAGE", package["id"]["id"])},
    )
    return ids, tokens, package


def test_metrics_follow_a_rollout(backend: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    with dedicated_server(backend, tmp_path_factory.mktemp("metrics"), PACED) as (server, tenant):
        before = scrape(server)
        assert value(before, "otakit_notifications_total") == 0
        ids, tokens, package = _fleet_assigned(tenant)

        # The queue notifies one device and holds the other two.
        wait_for(lambda: value(scrape(server), "otakit_notifications_total") == 1, 30)
        samples = scrape(server)
        assert value(samples, "otakit_queue_depth") == 2
        assert (status(samples, "QUEUED"), status(samples, "INITIATED")) == (2, 1)
        notified = next(
            i for i, device in enumerate(ids) if shared_attributes(tenant, device).get("fw_title")
        )
        token = tokens[notified]

        # MQTT: connected while the session is open; one histogram sample per chunk request.
        assert connected(server, "mqtt") == 0
        with MqttDevice(server.mqtt_port, token) as device:
            device.subscribe("v2/fw/response/+/chunk/+")
            assert connected(server, "mqtt") == 1
            requests, received = 0, b""
            while True:  # until the empty chunk that says the end, as devices do
                piece = device.chunk(1, requests, CHUNK)
                requests += 1
                if not piece:
                    break
                received += piece
            assert received == IMAGE and requests == math.ceil(len(IMAGE) / CHUNK) + 1
            wait_for(lambda: chunks(server, "mqtt") == requests, 10, "MQTT chunks counted")
            for state in ("DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED"):
                device.publish("v1/devices/me/telemetry", f'{{"fw_state": "{state}"}}')
        wait_for(lambda: connected(server, "mqtt") == 0, 10, "the MQTT session gone")
        samples = scrape(server)
        assert status(samples, "UPDATED") == 1
        assert (status(samples, "QUEUED"), status(samples, "INITIATED")) == (2, 0)

        # HTTP: a long poll is a session; chunk downloads are timed until their last byte.
        poll: list[httpx.Response] = []
        poller = threading.Thread(
            target=lambda: poll.append(
                httpx.get(
                    f"{server.url}/api/v1/{token}/attributes/updates",
                    params={"timeout": 20000},
                    timeout=30,
                )
            )
        )
        poller.start()
        wait_for(lambda: connected(server, "http") == 1, 10, "the long poll open")
        tenant.api.post(f"/api/plugins/telemetry/DEVICE/{ids[notified]}/SHARED_SCOPE", {"x": 1})
        poller.join(30)
        assert poll and poll[0].status_code == 200
        assert connected(server, "http") == 0
        pieces = [
            httpx.get(
                f"{server.url}/api/v1/{token}/firmware",
                params={"title": "metered", "version": "1.0", "size": CHUNK, "chunk": index},
            ).content
            for index in range(math.ceil(len(IMAGE) / CHUNK))
        ]
        assert b"".join(pieces) == IMAGE
        wait_for(lambda: chunks(server, "http") == len(pieces), 10, "HTTP chunks counted")

        # CoAP: one request for a chunk that fits one block.
        with CoapClient(server.coap_port) as coap:
            answer = coap.get(f"/api/v1/{token}/firmware?size=512&chunk=1", blockwise=False)
            assert answer.payload == IMAGE[512:1024]
        assert chunks(server, "coap") == 1

        after = scrape(server)
        assert value(after, "otakit_notifications_total") == 1  # the queue still holds two
        assert value(after, "otakit_queue_depth") == 2
        assert chunks(server, "mqtt") == requests  # nothing counted twice
        assert package["title"] not in httpx.get(f"{server.url}/metrics").text  # counts only


def test_metrics_off_and_out_of_the_api_document(tmp_path: Path) -> None:
    with dedicated_server("sqlite", tmp_path / "on", {}) as (server, _):
        assert "/metrics" not in httpx.get(f"{server.url}/openapi.json").json()["paths"]
        assert httpx.get(f"{server.url}/metrics").status_code == 200
    with dedicated_server("sqlite", tmp_path / "off", {"OTAKIT_METRICS": "off"}) as (server, _):
        assert httpx.get(f"{server.url}/metrics").status_code == 404
