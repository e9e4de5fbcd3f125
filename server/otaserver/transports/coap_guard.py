"""The CoAP socket, guarded: what a stranger's datagram may cost the server, and its log.

aiocoap (0.4.17) lets a datagram it cannot decode (an option that is not UTF-8) escape as an
exception with a full traceback from asyncio, accepts some message format errors, and logs
what it dislikes once per datagram, some with tracebacks. So:

- every datagram is screened here before aiocoap sees it: a message format error gets a Reset
  when it was confirmable and is dropped otherwise (RFC 7252 §4.2); a confirmable request with an
  option aiocoap cannot decode gets 4.02 Bad Option; the rest goes on to aiocoap;
- a send that the kernel refuses with the error an ICMP message left on the socket (a datagram
  sent earlier to a peer that has gone) is made again: see `guarded_transport`;
- aiocoap logs to a logger of ours, whose filter turns its warnings and errors into one throttled
  line each, without traceback, and its per-message chatter (pings, duplicates) into debug lines.

aiocoap offers no public way to wrap its UDP transport, so the server context is assembled here
with the private calls `create_server_context` would make itself. The socket is bound by
otaserver.listeners, not by aiocoap, whose server sockets set SO_REUSEPORT: a second server on
the port would then start without error and take part of the first one's datagrams.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiocoap
import aiocoap.error
from aiocoap.numbers.types import ACK
from aiocoap.transports.udp6 import MessageInterfaceUDP6

from ..throttled_log import ThrottledLog
from . import coap_wire

LIBRARY_LOGGER = "otaserver.coap.aiocoap"
MALFORMED = "coap-malformed"
MAX_DETAIL = 200
# The errors an ICMP message can leave pending on a UDP socket (Linux: icmp_err_convert,
# icmpv6_err_convert), and how often a datagram is sent again when its send returns one.
ICMP_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.EACCES,
        errno.EPROTO,
        errno.ENOPROTOOPT,
        errno.EMSGSIZE,
        errno.EOPNOTSUPP,
    }
)
SEND_ATTEMPTS = 3


def _sender(address: Any) -> str:
    host, port = str(address[0]), address[1]
    host = host.removeprefix("::ffff:") if "." in host else host  # IPv4 on the IPv6 socket
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_DETAIL else line[:MAX_DETAIL] + "..."


class DatagramGuard:
    """Decides what happens to a datagram before aiocoap: None lets it through, otherwise
    the reason it is refused and the reply it gets (None: no reply)."""

    def screen(self, data: bytes, truncated: bool = False) -> tuple[str, bytes | None] | None:
        return self.screen_message(data, truncated)[0]

    def screen_message(
        self, data: bytes, truncated: bool = False
    ) -> tuple[tuple[str, bytes | None] | None, aiocoap.Message | None]:
        """`screen`'s answer, and the message it decoded when it lets the datagram through."""
        header = coap_wire.header_of(data)
        if header is None:
            return ("not a CoAP message", None), None
        if truncated:
            cut = f"the datagram is longer than the {len(data)} bytes read of it"
            if header.is_request and header.confirmable:
                too_large = coap_wire.REQUEST_ENTITY_TOO_LARGE
                return (cut, coap_wire.piggybacked(header, too_large, cut)), None
            return (cut, coap_wire.reset(header) if header.confirmable else None), None
        why = coap_wire.format_error(data, header)
        if why is None:
            try:
                message = aiocoap.Message.decode(data)
            except aiocoap.error.UnparsableMessage as error:
                why = str(error)
            except Exception as error:  # aiocoap's decoder raises more than it documents
                why = (
                    "an option is not valid UTF-8"
                    if isinstance(error, UnicodeError)
                    else f"an option cannot be decoded ({type(error).__name__})"
                )
                if header.is_request and header.confirmable:
                    bad_option = coap_wire.piggybacked(header, coap_wire.BAD_OPTION, why)
                    return (why, bad_option), None
            else:
                return None, message
        return (why, coap_wire.reset(header) if header.confirmable else None), None


def _reply_ancdata(ancdata: list[Any]) -> list[Any]:
    """A reply leaves from the address the datagram came to, as aiocoap's do."""
    return [
        (level, kind, value)
        for level, kind, value in ancdata
        if (level, kind) == (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO)
    ]


def guarded_transport(warnings: ThrottledLog, site: Any = None) -> type[Any]:
    """aiocoap's UDP transport with every received datagram screened first.

    With a `site` that has `fast_download` (transports.coap.DeviceSite), a block request of a
    download is answered without aiocoap's message and token layers: a piggybacked response
    made by the same code aiocoap would call. Any other request, and any that this path
    cannot answer with success, goes on to aiocoap as before.

    A send refused with an error an ICMP message left on the socket is made again. aiocoap
    sets IP(V6)_RECVERR, so an ICMP error (port unreachable: a datagram to a device that closed
    its socket, such as a notification to an observer that went away without deregistering)
    is queued on the error queue, where aiocoap reads it with the sender it belongs to, *and*
    kept as the socket's pending error, which Linux returns from the next send of the socket,
    whoever that send is for, without sending its datagram. aiocoap 0.4.17 then blames that
    datagram's peer (udp6 `error_received` takes the remote being sent to): it ends that
    peer's requests and observations and stops retransmitting to it. In a reconnect storm, the
    separate response to a device's new Observe registration was lost that way when it was the
    next send after one to that device's (or another's) departed socket: the device had the
    empty ACK and never a response. The pending error is consumed by the send it failed, so
    sending again sends the datagram; the error itself reaches the right peer through the
    error queue. A send that fails SEND_ATTEMPTS times is reported as aiocoap would."""
    guard = DatagramGuard()
    fast_download = getattr(site, "fast_download", None)
    running: set[asyncio.Future[Any]] = getattr(site, "running", set())

    class GuardedUDP6(MessageInterfaceUDP6):  # type: ignore[misc]
        # While a send may be retried: error_received then only notes a pending ICMP error.
        _retrying = False
        _refused = False

        def _sent(self, send: Callable[[], None]) -> None:
            """`send` (one sendmsg, whose OSError the transport hands to error_received), made
            again while it fails with an ICMP error that was pending on the socket."""
            for attempt in range(1, SEND_ATTEMPTS + 1):
                self._retrying, self._refused = attempt < SEND_ATTEMPTS, False
                try:
                    send()
                finally:
                    self._retrying = False
                if not self._refused:
                    return

        def error_received(self, exc: Exception) -> None:
            if self._retrying and isinstance(exc, OSError) and exc.errno in ICMP_ERRNOS:
                self._refused = True  # not this datagram's error: _sent sends it again
                return
            super().error_received(exc)

        def send(self, message: aiocoap.Message) -> None:
            self._sent(lambda: MessageInterfaceUDP6.send(self, message))

        def _sendmsg(self, data: bytes, ancdata: list[Any], address: Any) -> None:
            """A datagram of ours that bypasses aiocoap (a fast answer, a refusal)."""
            self._sent(lambda: self.transport.sendmsg(data, _reply_ancdata(ancdata), 0, address))

        def datagram_msg_received(
            self, data: bytes, ancdata: list[Any], flags: int, address: Any
        ) -> None:
            # aiocoap reads at most 4096 bytes of a datagram, and would take the rest for all.
            refusal, message = guard.screen_message(data, bool(flags & socket.MSG_TRUNC))
            if message is not None and fast_download is not None:
                answer = fast_download(message)
                if answer is not None:
                    task = asyncio.ensure_future(
                        self._answer_fast(answer, message, data, ancdata, flags, address)
                    )
                    running.add(task)
                    task.add_done_callback(running.discard)
                    return
            if refusal is not None:
                why, reply = refusal
                action = "answered" if reply else "dropped"
                warnings.warning(
                    MALFORMED, f"{MALFORMED}: {action} a datagram from {_sender(address)}: {why}"
                )
                if reply is not None:
                    self._sendmsg(reply, ancdata, address)
                return
            self._to_aiocoap(data, ancdata, flags, address)

        def _to_aiocoap(self, data: bytes, ancdata: list[Any], flags: int, address: Any) -> None:
            # aiocoap logs what fails past decoding ("Exception raised through dispatch_message",
            # through LibraryLogFilter) and re-raises it for asyncio to log with a traceback.
            with contextlib.suppress(Exception):
                super().datagram_msg_received(data, ancdata, flags, address)

        async def _answer_fast(
            self,
            answer: Awaitable[aiocoap.Message | None],
            request: aiocoap.Message,
            data: bytes,
            ancdata: list[Any],
            flags: int,
            address: Any,
        ) -> None:
            response = await answer
            if response is None or self.transport is None:
                if self.transport is not None:
                    self._to_aiocoap(data, ancdata, flags, address)
                return
            response.mtype, response.mid, response.token = ACK, request.mid, request.token
            with contextlib.suppress(OSError):
                self._sendmsg(response.encode(), ancdata, address)

    return GuardedUDP6


class LibraryLogFilter(logging.Filter):
    """aiocoap's log records, as we want them: a warning or error becomes one throttled line
    (per place in aiocoap's code) without its traceback; the lines it writes for every message
    (a ping answered, a duplicate seen) are debug lines, not the info level operators read."""

    def __init__(self, warnings: ThrottledLog) -> None:
        super().__init__()
        self._warnings = warnings

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        if record.levelno >= logging.WARNING:
            where = f"aiocoap[{record.module}:{record.lineno}]"
            try:
                text = record.getMessage()
            except Exception:  # arguments that do not fit the message: still worth a line
                text = str(record.msg)
            self._warnings.warning(where, f"{where}: {_one_line(text)}")
            return False
        if record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


async def server_context(site: Any, sock: socket.socket, warnings: ThrottledLog) -> Any:
    """What `aiocoap.Context.create_server_context(site, bind, transports=["udp6"])` makes,
    on our own IPv6 UDP socket, with the guarded transport and aiocoap's logger named
    LIBRARY_LOGGER."""
    loop = asyncio.get_running_loop()
    context = aiocoap.Context(loop=loop, serversite=site, loggername=LIBRARY_LOGGER)
    transport = guarded_transport(warnings, site)
    await context._append_tokenmanaged_messagemanaged_transport(
        lambda manager: transport._create_transport_endpoint(
            sock, manager, context.log, loop, multicast=[]
        )
    )
    return context
