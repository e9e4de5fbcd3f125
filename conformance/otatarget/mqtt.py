"""The one paho-mqtt device of the suite and the project's tests: a token's connection whose
messages queue up, with publishes and subscriptions that wait for their acknowledgement."""

from __future__ import annotations

import queue
import socket
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

PROTOCOLS = {3: MQTTProtocolVersion.MQTTv311, 5: MQTTProtocolVersion.MQTTv5}
ACK_TIMEOUT = 15.0


class PahoDevice:
    """A paho client connected with a device token; MQTT 5 unless `version=3` (3.1.1)."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        version: int = 5,
        keepalive: int = 60,
        client_id: str = "",
    ) -> None:
        self.messages: queue.Queue[paho.MQTTMessage] = queue.Queue()
        connected: queue.Queue[Any] = queue.Queue()
        self.closed = threading.Event()
        # No reconnecting: a closed connection is what a check looks at, and paho's loop would
        # sleep up to 1 s before it let a closed device go.
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=PROTOCOLS[version],
            reconnect_on_failure=False,
        )
        self.client.username_pw_set(token)
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.on_connect = lambda _c, _u, _f, code, _p: connected.put(code)
        self.client.on_disconnect = lambda *_a: self.closed.set()
        self.client.connect(host, port, keepalive)
        # Without it each request waits for the server's delayed ACK (Nagle): ~44 ms instead of 1.
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.loop_start()
        self.code = connected.get(timeout=ACK_TIMEOUT)  # the CONNACK's reason code

    def __enter__(self) -> PahoDevice:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def accepted(self) -> bool:
        return not self.code.is_failure if hasattr(self.code, "is_failure") else self.code == 0

    def subscribe(self, topic: str, qos: int = 1) -> list[Any]:
        """Subscribes and waits for the SUBACK; its reason codes."""
        granted: queue.Queue[list[Any]] = queue.Queue()
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.put(codes)
        self.client.subscribe(topic, qos)
        return granted.get(timeout=ACK_TIMEOUT)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos).wait_for_publish(ACK_TIMEOUT)

    def next_on(self, *topics: str, timeout: float = 10) -> paho.MQTTMessage | None:
        """The next message on one of `topics` (others that come first are dropped), or None."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if message.topic in topics:
                return message

    def nothing_on(self, topic: str, wait: float = 0.5) -> bool:
        """Whether no message comes on `topic` for `wait` seconds (others are dropped)."""
        return self.next_on(topic, timeout=wait) is None
