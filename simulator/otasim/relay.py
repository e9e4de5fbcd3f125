"""A UDP relay that loses a share of the datagrams both ways: CoAP over a bad radio link.

Devices send to the relay; each client address gets a socket of its own towards the server,
so answers find their way back. Which datagrams are lost is drawn from a seeded generator.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

Address = tuple[str, int]


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: LossyRelay, client: Address) -> None:
        self.relay, self.client = relay, client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.relay.back(data, self.client)


class _Front(asyncio.DatagramProtocol):
    def __init__(self, relay: LossyRelay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.relay.forth(data, addr)


class LossyRelay:
    def __init__(self, server: Address, loss: float, seed: int) -> None:
        self.server, self.loss = server, loss
        self.rng = random.Random(seed)
        self.port = 0
        self.passed = self.lost = 0
        self._front: asyncio.DatagramTransport | None = None
        self._upstreams: dict[Address, _Upstream] = {}
        self._pending: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(cls, server: Address, loss: float, seed: int) -> LossyRelay:
        relay = cls(server, loss, seed)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Front(relay), local_addr=("127.0.0.1", 0)
        )
        relay._front = transport
        relay.port = transport.get_extra_info("sockname")[1]
        return relay

    def _keep(self) -> bool:
        if self.rng.random() < self.loss:
            self.lost += 1
            return False
        self.passed += 1
        return True

    def forth(self, data: bytes, client: Address) -> None:
        if not self._keep():
            return
        upstream = self._upstreams.get(client)
        if upstream is not None and upstream.transport is not None:
            upstream.transport.sendto(data)
            return
        task = asyncio.ensure_future(self._open(client, data))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _open(self, client: Address, first: bytes) -> None:
        upstream = self._upstreams.get(client)
        if upstream is None:
            upstream = self._upstreams[client] = _Upstream(self, client)
            await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: upstream, remote_addr=self.server
            )
        if upstream.transport is not None:
            upstream.transport.sendto(first)

    def back(self, data: bytes, client: Address) -> None:
        if self._front is not None and self._keep():
            self._front.sendto(data, client)

    async def close(self) -> None:
        for task in list(self._pending):
            task.cancel()
        for upstream in self._upstreams.values():
            if upstream.transport is not None:
                upstream.transport.close()
        if self._front is not None:
            self._front.close()
