"""`otakit serve` stopping on SIGTERM or Ctrl-C with devices connected: quickly, answering them.

ThingsBoard answers a long poll that times out with 408; a stopping otakit answers open polls
the same way at once, since every device already takes it as "ask again". MQTT 5 devices get a
DISCONNECT with reason code 0x8B (Server shutting down); 3.1.1, which has no DISCONNECT from the
server, sees its connection closed in order (FIN, not a reset).
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.conftest import database_for
from tests.support.mqtt_wire import RawDevice
from tests.support.process import ServerProcess, start_server

SERVER_SHUTTING_DOWN = 0x8B
DISCONNECT = 14
STOP_WITHIN = 2.0


@pytest.fixture
def demo_server(backend: str, tmp_path: Path) -> Iterator[ServerProcess]:
    with ExitStack() as stack:
        server = start_server(
            tmp_path, database_for(backend, stack), ("--demo",), env={"OTAKIT_LOG_LEVEL": "info"}
        )
        try:
            yield server
        finally:
            server.stop()


class LongPoll(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.response: httpx.Response | BaseException | None = None

    def run(self) -> None:
        try:
            self.response = httpx.get(self.url, params={"timeout": 60000}, timeout=30)
        except BaseException as error:
            self.response = error


class PahoDevice:
    """A paho MQTT 5 device that records the reason code the server disconnected it with."""

    def __init__(self, port: int, token: str) -> None:
        self.reasons: list[int] = []
        self.gone = threading.Event()
        connected = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self.client.username_pw_set(token)
        self.client.on_connect = lambda *_args: connected.set()
        self.client.on_disconnect = self._on_disconnect
        self.client.connect("127.0.0.1", port, 60)
        self.client.loop_start()
        assert connected.wait(10)

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        self.reasons.append(reason.value)
        self.gone.set()

    def close(self) -> None:
        self.client.loop_stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_with_devices_connected_is_quick_and_tells_them(
    demo_server: ServerProcess, sig: signal.Signals
) -> None:
    server = demo_server
    polls = [LongPoll(f"{server.url}/api/v1/demo-token-t1/attributes/updates") for _ in range(2)]
    for poll in polls:
        poll.start()
    paho_v5 = PahoDevice(server.mqtt_port, "demo-token-t2")
    with RawDevice(server.mqtt_port) as raw_v5, RawDevice(server.mqtt_port) as raw_v311:
        assert raw_v5.connect("demo-token-t3", level=5) == 0
        assert raw_v311.connect("demo-token-t3", level=4) == 0
        time.sleep(1.0)  # the polls are in the server's hands
        assert all(poll.response is None for poll in polls)
        started = time.monotonic()
        server.process.send_signal(sig)
        returncode = server.process.wait(timeout=15)
        took = time.monotonic() - started
        # MQTT 5: DISCONNECT, reason "Server shutting down", then the end of the connection.
        goodbye = raw_v5.read()
        assert goodbye is not None and goodbye.kind == DISCONNECT, goodbye
        assert goodbye.body[0] == SERVER_SHUTTING_DOWN
        assert raw_v5.read() is None
        # MQTT 3.1.1: an orderly close. recv() returns b"" on a FIN, raises on a reset.
        raw_v311.sock.settimeout(5)
        assert raw_v311.sock.recv(1024) == b""
    assert paho_v5.gone.wait(5)
    assert paho_v5.reasons == [SERVER_SHUTTING_DOWN]
    paho_v5.close()
    for poll in polls:
        poll.join(10)
        assert isinstance(poll.response, httpx.Response), poll.response
        assert poll.response.status_code == 408, poll.response.text
        assert poll.response.json()["status"] == 408
    assert took < STOP_WITHIN, took
    assert returncode == 0
    log = server.log()
    for bad in ("Traceback", "CancelledError", " ERROR "):
        assert bad not in log, log


def test_stopping_an_idle_server_is_quick(demo_server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", demo_server.mqtt_port)):
        started = time.monotonic()
        demo_server.process.send_signal(signal.SIGTERM)
        assert demo_server.process.wait(timeout=15) == 0
    assert time.monotonic() - started < STOP_WITHIN
    assert "Traceback" not in demo_server.log()
