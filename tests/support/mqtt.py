"""The tests' MQTT device: otatarget's paho device on this machine, with chunked downloads."""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as paho
from otatarget.mqtt import PahoDevice

VERSIONS = {"3.1.1": 3, "5": 5}


class MqttDevice(PahoDevice):
    def __init__(
        self, port: int, token: str, version: str = "5", keepalive: int = 60, client_id: str = ""
    ) -> None:
        super().__init__("127.0.0.1", port, token, VERSIONS[version], keepalive, client_id)

    def __enter__(self) -> MqttDevice:
        return self

    @property
    def connect_code(self) -> Any:
        return self.code

    @property
    def disconnected(self) -> bool:
        return self.closed.is_set()

    def expect(self, topic: str, timeout: float = 10) -> paho.MQTTMessage:
        """The next message on `topic`; others that arrive first are dropped."""
        message = self.next_on(topic, timeout=timeout)
        assert message is not None, f"nothing on {topic} in {timeout:g} s"
        return message

    def chunk(self, request_id: int, index: int, size: int | None, kind: str = "fw") -> bytes:
        payload = b"" if size is None else str(size).encode()
        self.publish(f"v2/{kind}/request/{request_id}/chunk/{index}", payload)
        return bytes(self.expect(f"v2/{kind}/response/{request_id}/chunk/{index}").payload)

    def download(self, request_id: int, chunk_size: int, total: int, kind: str = "fw") -> bytes:
        """Chunks until an empty one, as the docs tell devices to do."""
        received, index = b"", 0
        while True:
            piece = self.chunk(request_id, index, chunk_size, kind)
            if not piece:
                return received
            received += piece
            index += 1
            assert len(received) <= total, "more bytes than the package has"
