"""The MicroPython MQTT adapter, on CPython, through a client with exactly umqtt.simple's API.

`StrictUmqtt` lets the adapter use only what umqtt.simple has, with its argument types (bytes
topics and payloads), so that code that would break on a device breaks here first. The loop
below is a board's main loop (client/examples/esp32_main.py) without its reconnects.
"""

from __future__ import annotations

import inspect
import random
import time
from pathlib import Path
from typing import Any

from otaclient.agent import Agent
from otaclient.install_slots import SlotInstaller
from otaclient.net_mqtt import MqttTransport
from otaclient.store_file import FileStore
from otaclient.updater import Updater

from tests.client.umqtt_paho import MQTTClient
from tests.conftest import TenantContext
from tests.support.devices import provision
from tests.support.process import ServerProcess

# umqtt.simple's public API (micropython-lib, umqtt/simple.py).
UMQTT_METHODS = {
    "connect",
    "disconnect",
    "ping",
    "set_callback",
    "set_last_will",
    "subscribe",
    "publish",
    "wait_msg",
    "check_msg",
}


class StrictUmqtt(MQTTClient):
    def __init__(
        self,
        client_id: bytes,
        server: str,
        port: int = 0,
        user: Any = None,
        password: Any = None,
        keepalive: int = 0,
    ) -> None:
        assert isinstance(client_id, bytes) and isinstance(server, str)
        super().__init__(client_id, server, port, user, password, keepalive)
        self.calls: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name not in UMQTT_METHODS | {
            "calls",
            "server",
            "port",
            "keepalive",
        }:
            raise AttributeError(f"umqtt.simple's MQTTClient has no {name!r}")
        return object.__getattribute__(self, name)

    def subscribe(self, topic: bytes, qos: int = 0) -> None:
        assert isinstance(topic, bytes) and qos in (0, 1)
        self.calls.append("subscribe")
        super().subscribe(topic, qos)

    def publish(self, topic: bytes, msg: bytes, retain: bool = False, qos: int = 0) -> None:
        assert isinstance(topic, bytes) and isinstance(msg, bytes)
        self.calls.append("publish")
        super().publish(topic, msg, retain, qos)

    def set_callback(self, f: Any) -> None:
        def checked(topic: bytes, msg: bytes) -> None:
            assert isinstance(topic, bytes) and isinstance(msg, bytes)
            f(topic, msg)

        super().set_callback(checked)


def update(agent: Agent, timeout: float) -> str:
    """Connects, then handles what arrives until the update ends; the state it ended in."""
    deadline = time.monotonic() + timeout
    agent.transport.connect(agent)
    try:
        agent.handle(agent.updater.start())
        while not agent.finished:
            assert time.monotonic() < deadline, f"still {agent.updater.state}"
            agent.transport.poll()
            agent.tick(int(time.monotonic() * 1000))
    finally:
        agent.transport.close()
    state: str = agent.updater.state
    return state


def test_stand_in_signatures_match_umqtt() -> None:
    params = inspect.signature(StrictUmqtt.__init__).parameters
    assert list(params)[1:] == ["client_id", "server", "port", "user", "password", "keepalive"]
    assert list(inspect.signature(MQTTClient.publish).parameters)[1:] == [
        "topic",
        "msg",
        "retain",
        "qos",
    ]


def test_micropython_mqtt_adapter_updates_against_the_server(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path
) -> None:
    image = random.randbytes(60_000)
    p = provision(tenant, image, announce=True)
    client = StrictUmqtt(b"umqtt-device", "127.0.0.1", server.mqtt_port, p.token.encode(), None, 60)
    store, installer = FileStore(str(tmp_path)), SlotInstaller(str(tmp_path / "slots"))
    agent = Agent(Updater("fw", "Initial", "v0", 4096), MqttTransport(client), store, installer)
    assert update(agent, 60) == "UPDATED"
    assert Path(installer.active_image() or "").read_bytes() == image
    assert {"subscribe", "publish"} <= set(client.calls)
