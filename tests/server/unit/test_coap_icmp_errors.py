"""An ICMP error left on the CoAP socket by a datagram to a departed peer costs no other peer.

The reconnect storm of the load tests (every device drops its UDP socket, the server keeps a
ghost observation, each device registers again from a new socket): a few registrations got the
empty ACK and never their separate response. The server had just sent a datagram to a departed
socket; the ICMP port unreachable it drew was pending on the server's socket, Linux returned it
from the server's next send (the separate response, to another peer) without sending that, and
aiocoap blamed that peer: it ended the request and never retransmitted. coap_guard's transport
sends such a datagram again.

This runs aiocoap with coap_guard's transport, in process, on loopback: the ICMP error of a
datagram to a closed port is pending by the time the next send is made.
"""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace
from typing import Any

import aiocoap
import aiocoap.resource
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import ACK, CON

from otaserver.transports.coap_guard import server_context

# Within aiocoap's first retransmission timeout (ACK_TIMEOUT, 2 s): the response's first
# transmission must arrive. (Without the fix it never does: aiocoap drops the exchange.)
ANSWER_WITHIN = 1.5


def _closed_port() -> int:
    """A loopback UDP port that nobody listens on any more: a device that went away."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _AfterAGhost(aiocoap.resource.Resource):  # type: ignore[misc]
    """Answers late (separately, after aiocoap's empty ACK), and just before its answer the
    server sends a datagram to a departed peer, as the server did in the storm (a notification
    to a ghost observer, a block to a device that had closed its socket)."""

    interface: Any = None

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        await asyncio.sleep(0.3)  # past EMPTY_ACK_DELAY (0.1 s): the response goes separately
        ghost = ("::ffff:127.0.0.1", _closed_port(), 0, 0)
        self.interface.transport.sendmsg(b"\x50\x45\x00\x01", [], 0, ghost)  # a NON 2.05
        return aiocoap.Message(code=Code.CONTENT, payload=b"answer")


async def _exchange() -> list[aiocoap.Message]:
    """What a device gets for a confirmable GET of that resource: the empty ACK, then the
    response (a CON, which it acknowledges)."""
    loop = asyncio.get_running_loop()
    server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.bind(("::ffff:127.0.0.1", 0))
    server.setblocking(False)
    port = server.getsockname()[1]
    resource = _AfterAGhost()
    site = aiocoap.resource.Site()
    site.add_resource(["late"], resource)
    context = await server_context(site, server, SimpleNamespace(warning=lambda *args: None))
    resource.interface = context.request_interfaces[0].token_interface.message_interface
    device = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    device.setblocking(False)
    received: list[aiocoap.Message] = []
    try:
        device.connect(("127.0.0.1", port))
        request = aiocoap.Message(code=Code.GET, uri_path=["late"])
        request.mtype, request.mid, request.token = CON, 1, b"tk"
        await loop.sock_sendall(device, request.encode())
        while not any(m.code == Code.CONTENT for m in received):
            try:
                datagram = await asyncio.wait_for(loop.sock_recv(device, 2048), ANSWER_WITHIN)
            except TimeoutError:
                break
            message = aiocoap.Message.decode(datagram)
            received.append(message)
            if message.mtype == CON:
                ack = aiocoap.Message(code=Code.EMPTY)
                ack.mtype, ack.mid = ACK, message.mid
                await loop.sock_sendall(device, ack.encode())
    finally:
        device.close()
        await context.shutdown()
    return received


def test_a_separate_response_right_after_a_datagram_to_a_departed_peer_arrives() -> None:
    received = asyncio.run(_exchange())
    assert [(m.mtype, m.code) for m in received][:1] == [(ACK, Code.EMPTY)]
    responses = [m for m in received if m.code == Code.CONTENT]
    assert responses, "the empty ACK came, the separate response never did"
    assert responses[0].token == b"tk" and responses[0].payload == b"answer"
