"""A TCP proxy that records what clients send (and what they get), to replay it later."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class RecordingProxy:
    """Listens on `port` and forwards each connection to `target_port`, keeping every byte a
    client sent in `sessions` and every byte it got in `answers` (one bytearray per
    connection, in the order they were opened)."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.sessions: list[bytearray] = []
        self.answers: list[bytearray] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target_port), timeout=30)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sent, answered = bytearray(), bytearray()
            self.sessions.append(sent)
            self.answers.append(answered)
            self._start(_relay, client, upstream, sent, answered)


def _relay(
    client: socket.socket, upstream: socket.socket, sent: bytearray, answered: bytearray
) -> None:
    """Both directions of one connection, until both ends are done; then closes both sockets."""
    back = threading.Thread(target=_pump, args=(upstream, client, answered), daemon=True)
    back.start()
    _pump(client, upstream, sent)
    back.join(timeout=30)
    client.close()
    upstream.close()


def _pump(source: socket.socket, target: socket.socket, recorded: bytearray) -> None:
    """Copies source to target until source closes, then half-closes the target."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            recorded += data
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
