"""The server's log, read back after real devices updated over HTTP, MQTT and CoAP: one format,
no secrets in it, and a line for each session, assignment, queue pack and status change."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import httpx
import pytest

from tests.client.test_device_e2e import device_args, run_device
from tests.conftest import TenantContext
from tests.support.api import entity_id
from tests.support.coap import CoapClient
from tests.support.dedicated import dedicated_server, tracebacks
from tests.support.devices import provision
from tests.support.ota import report
from tests.support.process import ADMIN_PASSWORD, ServerProcess
from tests.support.server_log import log_lines

IMAGE = os.urandom(40_000)
INFO = {"OTAKIT_LOG_LEVEL": "info"}
SECRET_QUERY_VALUE = "never-logged-" + uuid.uuid4().hex


def _a_fleet_updates(server: ServerProcess, tenant: TenantContext, tmp_path: Path) -> list[str]:
    """Three devices update, one over each transport, and one fails; returns their tokens."""
    tokens = []
    for protocol in ("http", "mqtt", "coap"):
        p = provision(tenant, IMAGE, announce=True)
        code, events = run_device(*device_args(server, p.token, protocol, tmp_path / protocol))
        assert code == 0, events
        tokens.append(p.token)
    failing = provision(tenant, IMAGE[:1000])
    report(tenant, failing.token, {"fw_state": "FAILED", "fw_error": "flash write error"})
    tokens.append(failing.token)
    # An observation over CoAP, and a secret in a query string.
    with CoapClient(server.coap_port) as coap:
        first, _, request = coap.observe(f"/api/v1/{failing.token}/attributes")
        assert first.code.is_successful()
        coap.cancel(request)
    httpx.get(f"{server.url}/api/noauth/activate", params={"activateToken": SECRET_QUERY_VALUE})
    return tokens


def test_the_log_holds_no_secret_and_tells_what_happened(
    backend: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with dedicated_server(backend, tmp_path_factory.mktemp("logs"), INFO) as (server, tenant):
        tokens = _a_fleet_updates(server, tenant, tmp_path)
        profile = tenant.api.create_profile(f"fleet-{uuid.uuid4().hex[:6]}")
        profile_id = profile["id"]["id"]
        for index in range(2):
            tenant.api.create_device(f"fleet-{index}-{uuid.uuid4().hex[:4]}", profile_id)
        package = tenant.api.create_package(profile_id, "fleet-fw", "2.0")
        package = tenant.api.upload(package["id"]["id"], IMAGE[:100])
        tenant.api.post(
            "/api/deviceProfile",
            {**profile, "firmwareId": entity_id("OTA_PACKAGE", package["id"]["id"])},
        )
        server.stop()  # the sessions' closing lines, and everything flushed
        log = server.log()

    for secret in (*tokens, ADMIN_PASSWORD, "tenant-password", SECRET_QUERY_VALUE):
        assert secret not in log
    assert not tracebacks(log)
    lines = log_lines(log)
    messages = [line.message for line in lines]
    # One format: every record (uvicorn's access log included) is `time LEVEL logger: message`.
    assert {"uvicorn.access", "uvicorn.error"} <= {line.logger for line in lines}
    assert any("/api/v1/***/firmware?" in m for m in messages)
    assert any("activateToken=***" in m for m in messages)

    def one(text: str) -> None:
        assert any(text in m for m in messages), f"no line with {text!r}"

    one("MQTT session opened: device 'device-")
    one("MQTT session closed: device 'device-")
    one("CoAP session: first request of device 'device-")
    one("CoAP observation registered: device 'device-")
    one("CoAP observation ended: device 'device-")
    one("assigned to device 'device-")
    one(f"firmware 'fleet-fw' '2.0' assigned to profile '{profile['name']}': 2 devices queued")
    one("update queue pack: ")
    one("firmware: QUEUED -> INITIATED, notified of 'firmware-")
    one("firmware: DOWNLOADING -> DOWNLOADED")
    one("firmware: UPDATING -> UPDATED")
    one("firmware: INITIATED -> FAILED: flash write error")


def test_json_lines_with_log_format_json(tmp_path_factory: pytest.TempPathFactory) -> None:
    env = {**INFO, "OTAKIT_LOG_FORMAT": "json"}
    with dedicated_server("sqlite", tmp_path_factory.mktemp("json"), env) as (server, tenant):
        p = provision(tenant, IMAGE[:5000], announce=True)
        code, events = run_device(
            *device_args(server, p.token, "mqtt", tmp_path_factory.mktemp("device"))
        )
        assert code == 0, events
        httpx.get(f"{server.url}/api/v1/{p.token}/attributes")
        server.stop()
        log = server.log()

    assert p.token not in log
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert not log_lines(log), "a plain-text record among the JSON lines"
    by_logger = {record["logger"]: record for record in records}
    assert {"uvicorn.access", "uvicorn.error", "otaserver.transports.mqtt.connection"} <= set(
        by_logger
    )
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
    access = [r["message"] for r in records if r["logger"] == "uvicorn.access"]
    assert any('"GET /api/v1/***/attributes HTTP/1.1" 200' in m for m in access)
    opened = [r for r in records if r["message"].startswith("MQTT session opened")]
    assert opened and opened[0]["transport"] == "mqtt"
