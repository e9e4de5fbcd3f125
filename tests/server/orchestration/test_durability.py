"""The queue survives a crash, and several server processes share one queue and one pace."""

from __future__ import annotations

import json
import signal
from contextlib import ExitStack

import pytest

from tests.conftest import TenantContext, create_tenant, database_for
from tests.server.orchestration.test_queue import (
    assign_profile,
    package,
    profile_with_devices,
    token_of,
)
from tests.support.api import Api
from tests.support.mqtt import MqttDevice
from tests.support.ota import initiated, wait_for
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess, start_server


def on(server: ServerProcess, tenant: TenantContext) -> TenantContext:
    """The same tenant, logged in on another server process."""
    api = Api.login(server.url, tenant.admin_email, "tenant-password")
    return TenantContext(api, tenant.tenant_id, tenant.admin_email, tenant.default_profile_id)


def notified(tenant: TenantContext, devices: list[dict[str, object]]) -> list[list[int]]:
    return [initiated(tenant, str(d["id"]["id"])) for d in devices]  # type: ignore[index]


def test_a_killed_server_notifies_every_queued_device_exactly_once(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # 10 s to drain 20 devices: the kill lands mid-queue even when a loaded machine is slow
    # to see the first four notified.
    pace = {"TB_QUEUE_CORE_FW_PACK_SIZE": "2", "TB_QUEUE_CORE_FW_PACK_INTERVAL_MS": "1000"}
    with ExitStack() as stack:
        database = database_for(backend, stack)
        data_dir = tmp_path_factory.mktemp("crash")
        first = start_server(data_dir, database, env=pace)
        stack.callback(first.stop)
        tenant = create_tenant(Api.login(first.url, ADMIN_EMAIL, ADMIN_PASSWORD))
        profile_id, devices = profile_with_devices(tenant, 20)
        assign_profile(tenant, profile_id, package(tenant, profile_id))
        wait_for(lambda: sum(map(bool, notified(tenant, devices))) >= 4, 20, "some notified")
        first.stop(signal.SIGKILL)
        second = start_server(data_dir, database, env=pace)
        stack.callback(second.stop)
        again = on(second, tenant)
        before = sum(map(bool, notified(again, devices)))
        assert before < 20, "the queue was drained before the kill"
        wait_for(lambda: all(notified(again, devices)), 40, "all notified after the restart")
        assert [len(times) for times in notified(again, devices)] == [1] * 20


def test_two_servers_on_one_postgresql_share_one_queue_and_one_pace(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    pace = {"TB_QUEUE_CORE_FW_PACK_SIZE": "5", "TB_QUEUE_CORE_FW_PACK_INTERVAL_MS": "1000"}
    with ExitStack() as stack:
        database = database_for("postgresql", stack)
        data_dir = tmp_path_factory.mktemp("shared")
        servers = [start_server(data_dir, database, env=pace) for _ in range(2)]
        for server in servers:
            stack.callback(server.stop)
        tenant = create_tenant(Api.login(servers[0].url, ADMIN_EMAIL, ADMIN_PASSWORD))
        profile_id, devices = profile_with_devices(tenant, 30)
        assign_profile(tenant, profile_id, package(tenant, profile_id))
        # Half-way, the first server goes away: the second drains the rest of the one queue.
        wait_for(lambda: sum(map(bool, notified(tenant, devices))) >= 10, 20, "ten notified")
        servers[0].stop()
        other = on(servers[1], tenant)
        wait_for(lambda: all(notified(other, devices)), 30, "all notified")
        times = sorted(t for device_times in notified(other, devices) for t in device_times)
        assert len(times) == 30  # each device once
        for first, sixth in zip(times, times[5:], strict=False):
            assert sixth - first >= 1000, "the two servers together exceeded the pace"


def test_a_push_reaches_a_device_connected_to_another_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with ExitStack() as stack:
        database = database_for("postgresql", stack)
        data_dir = tmp_path_factory.mktemp("pubsub")
        servers = [start_server(data_dir, database) for _ in range(2)]
        for server in servers:
            stack.callback(server.stop)
        tenant = create_tenant(Api.login(servers[0].url, ADMIN_EMAIL, ADMIN_PASSWORD))
        _, (device,) = profile_with_devices(tenant, 1)
        with MqttDevice(servers[1].mqtt_port, token_of(tenant, device)) as mqtt:
            mqtt.subscribe("v1/devices/me/attributes")
            tenant.api.post(
                f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/SHARED_SCOPE",
                {"fw_title": "from-the-other-server"},
            )
            pushed = json.loads(mqtt.expect("v1/devices/me/attributes").payload)
        assert pushed == {"fw_title": "from-the-other-server"}
