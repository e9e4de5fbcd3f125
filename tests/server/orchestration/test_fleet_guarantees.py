"""What the fleet-scale paths keep: packs notified in batches, device reports committed in groups.

A batch of queued devices is notified in one transaction and device reports are committed many
at a time; a server killed in the middle of either must lose and repeat nothing it acknowledged.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from contextlib import ExitStack

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import create_tenant, database_for
from tests.server.orchestration.test_durability import notified, on
from tests.server.orchestration.test_queue import (
    assign_profile,
    package,
    profile_with_devices,
    token_of,
)
from tests.support.api import Api
from tests.support.ota import states, wait_for
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD, start_server

DEVICES = 12
REPORTS = 40  # per device, sent without waiting for the acknowledgements


def test_a_server_killed_amid_batched_packs_notifies_every_device_exactly_once(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Packs of 12 every 3 s, notified 4 to a transaction: the kill lands inside a pack, and
    # before the 15 s the queue takes to drain, even when a loaded machine is slow to watch it.
    pace = {
        "TB_QUEUE_CORE_FW_PACK_SIZE": "12",
        "TB_QUEUE_CORE_FW_PACK_INTERVAL_MS": "3000",
        "OTAKIT_QUEUE_BATCH_SIZE": "4",
    }
    with ExitStack() as stack:
        database = database_for(backend, stack)
        data_dir = tmp_path_factory.mktemp("batched")
        first = start_server(data_dir, database, env=pace)
        stack.callback(first.stop)
        tenant = create_tenant(Api.login(first.url, ADMIN_EMAIL, ADMIN_PASSWORD))
        profile_id, devices = profile_with_devices(tenant, 60)
        assign_profile(tenant, profile_id, package(tenant, profile_id))
        wait_for(lambda: sum(map(bool, notified(tenant, devices))) >= 14, 30, "a pack and more")
        first.stop(signal.SIGKILL)
        killed_ms = time.time() * 1000
        second = start_server(data_dir, database, env=pace)
        stack.callback(second.stop)
        again = on(second, tenant)
        wait_for(lambda: all(notified(again, devices)), 60, "all notified after the restart")
        times = [t for device_times in notified(again, devices) for t in device_times]
        assert sorted(map(len, notified(again, devices))) == [1] * 60
        assert min(times) < killed_ms < max(times), "the kill did not land amid the queue"
        # No interval holds more than a pack: the batches, and the restart, kept the pace.
        assert max(sum(t - 3000 < other <= t for other in times) for t in times) <= 12


def test_every_acknowledged_report_survives_a_kill_in_the_order_sent(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with ExitStack() as stack:
        database = database_for(backend, stack)
        data_dir = tmp_path_factory.mktemp("reports")
        server = start_server(data_dir, database)
        stack.callback(server.stop)
        tenant = create_tenant(Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD))
        _, devices = profile_with_devices(tenant, DEVICES)
        clients: list[tuple[str, paho.Client, list[paho.MQTTMessageInfo]]] = []
        for device in devices:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=uuid.uuid4().hex)
            client.username_pw_set(token_of(tenant, device))
            client.connect("127.0.0.1", server.mqtt_port)
            client.loop_start()
            clients.append((str(device["id"]["id"]), client, []))

        def acknowledged() -> dict[str, list[int]]:
            """Per device, the numbers of the reports whose PUBACK came."""
            return {
                device_id: [n for n, info in enumerate(infos) if info.is_published()]
                for device_id, _, infos in clients
            }

        try:
            for n in range(REPORTS):
                for _, client, infos in clients:
                    message = json.dumps({"fw_state": f"S{n}"})
                    infos.append(client.publish("v1/devices/me/telemetry", message, qos=1))
            wait_for(
                lambda: sum(map(len, acknowledged().values())) >= DEVICES * REPORTS // 3,
                60,
                "a third of the reports acknowledged",
            )
            server.stop(signal.SIGKILL)
            acked = acknowledged()
        finally:
            for _, client, _ in clients:
                client.loop_stop()
        restarted = start_server(data_dir, database)
        stack.callback(restarted.stop)
        again = on(restarted, tenant)
        for device_id, numbers in acked.items():
            kept = [value for _, value in states(again, device_id)]
            # A prefix of what was sent, in the order sent: nothing lost or reordered...
            assert kept == [f"S{n}" for n in range(len(kept))]
            # ...and holding all that was acknowledged (more may have been committed unacked).
            assert numbers == list(range(len(numbers)))  # acknowledged in the order sent
            assert len(kept) >= len(numbers)
