"""The server's three sockets, bound before anything else happens.

`otakit serve` binds HTTP, MQTT and CoAP first and only then touches the data directory and the
database: a port that is taken ends the start with one line, before an administrator, a demo
tenant or a database file exists. None of the sockets shares its port: SO_REUSEPORT (which
aiocoap sets on its own sockets) would let a second server on the same port take half of the
datagrams meant for the first, silently.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from .domain.errors import OtaError
from .settings import Settings

BACKLOG = 2048  # uvicorn's default


class StartupError(OtaError):
    """What keeps the server from starting in this environment: a port, a directory, a database.

    Its message is the one line `otakit` prints; it names the setting to change."""


@dataclass
class Listeners:
    http: socket.socket
    mqtt: socket.socket | None
    coap: socket.socket | None

    def close(self) -> None:
        for sock in (self.http, self.mqtt, self.coap):
            if sock is not None:
                sock.close()


def bind_listeners(settings: Settings) -> Listeners:
    """Every listener bound (TCP ones listening), or StartupError with none left open."""
    bound: list[socket.socket] = []
    try:
        http = _bound(bound, _tcp(settings.host, settings.http_port, "HTTP", "--http-port"))
        mqtt = coap = None
        if settings.mqtt_port:
            mqtt = _bound(bound, _tcp(settings.host, settings.mqtt_port, "MQTT", "--mqtt-port"))
        if settings.coap_port:
            coap = _bound(bound, _udp(settings.host, settings.coap_port))
    except BaseException:
        for sock in bound:
            sock.close()
        raise
    return Listeners(http, mqtt, coap)


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def _bound(bound: list[socket.socket], sock: socket.socket) -> socket.socket:
    bound.append(sock)
    return sock


def _address(
    host: str, port: int, kind: socket.SocketKind, family: int, flags: int, what: str
) -> tuple[int, object]:
    try:
        infos = socket.getaddrinfo(host, port, family, kind, 0, flags)
    except (socket.gaierror, UnicodeError) as error:
        raise StartupError(
            f"{what}: cannot listen on host {host!r} (--host): {_reason(error)}"
        ) from None
    family, _, _, _, address = infos[0]
    return family, address


def _tcp(host: str, port: int, what: str, flag: str) -> socket.socket:
    family, address = _address(
        host, port, socket.SOCK_STREAM, socket.AF_UNSPEC, socket.AI_PASSIVE, what
    )
    # IPPROTO_TCP by name: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # whose protocol says TCP, and with Nagle on, a response written in two parts waits out the
    # client's delayed ACK: 40 ms for every request after the first on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # Only so that a restart need not wait out TIME_WAIT: on Linux two listening sockets
        # never share a TCP port with SO_REUSEADDR alone.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)  # type: ignore[arg-type]
        # Listening at once: a bound socket that is not listening does not yet hold the port
        # against another SO_REUSEADDR socket, so "in use" would show only later.
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise StartupError(_bind_problem(what, host, port, flag, error)) from None
    sock.setblocking(False)
    return sock


def _udp(host: str, port: int) -> socket.socket:
    # One IPv6 socket that takes IPv4 too, as aiocoap binds it: aiocoap's transport needs
    # IPV6_PKTINFO, so an IPv4 address is bound in its IPv4-mapped form.
    what, flag = "CoAP", "--coap-port"
    _, address = _address(
        host,
        port,
        socket.SOCK_DGRAM,
        socket.AF_INET6,
        socket.AI_PASSIVE | socket.AI_V4MAPPED,
        what,
    )
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)  # type: ignore[arg-type]
    except OSError as error:
        sock.close()
        raise StartupError(_bind_problem(what, host, port, flag, error, " (UDP)")) from None
    sock.setblocking(False)
    return sock


def _bind_problem(what: str, host: str, port: int, flag: str, error: OSError, udp: str = "") -> str:
    if error.errno == errno.EADDRINUSE:
        return f"{what} port {port}{udp} ({flag}) is in use on {host}"
    if error.errno == errno.EACCES:
        return f"{what} port {port}{udp} ({flag}) needs privileges this process lacks"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{what}: {host} (--host) is not an address of this machine"
    return f"{what}: cannot listen on {host} port {port}{udp} ({flag}): {_reason(error)}"


def _reason(error: OSError | UnicodeError) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
