"""A UDP relay that keeps every datagram its clients send: real clients' requests, recorded."""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Any


class UdpRecorder:
    """Clients talk to `port`; each client gets its own socket towards the server, so that the
    server sees them apart, and `recorded` holds what they sent, in order."""

    def __init__(self, server_port: int) -> None:
        self._server = ("127.0.0.1", server_port)
        self._front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._front.bind(("127.0.0.1", 0))
        self.port: int = self._front.getsockname()[1]
        self.recorded: list[bytes] = []
        self._upstream: dict[Any, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._front, selectors.EVENT_READ, None)
        self._running = True
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        while self._running:
            for key, _ in self._selector.select(timeout=0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data, sender = sock.recvfrom(65536)
                except OSError:  # an ICMP error for an earlier datagram
                    continue
                if key.data is None:  # a client's datagram
                    self.recorded.append(data)
                    self._towards_server(sender).send(data)
                else:  # the server's answer to the client key.data
                    self._front.sendto(data, key.data)

    def _towards_server(self, client: Any) -> socket.socket:
        if client not in self._upstream:
            upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            upstream.connect(self._server)
            self._upstream[client] = upstream
            self._selector.register(upstream, selectors.EVENT_READ, client)
        return self._upstream[client]

    def close(self) -> None:
        self._running = False
        self._thread.join(5)
        for sock in [self._front, *self._upstream.values()]:
            sock.close()
        self._selector.close()

    def __enter__(self) -> UdpRecorder:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
