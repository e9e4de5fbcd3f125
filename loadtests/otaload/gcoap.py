"""A CoAP client for gevent: one UDP socket and one reader greenlet per client, no thread.

Locust runs each simulated device as a greenlet. aiocoap's client needs an asyncio loop, which
under gevent means a thread per device, so this client does RFC 7252's message layer itself
(confirmable requests, retransmission, piggybacked and separate responses, resets, duplicate
detection), Block2 downloads (RFC 7959) and Observe (RFC 7641), and uses aiocoap only to encode
and decode messages.

It uses gevent's socket, event and queue modules explicitly, so that it works the same with and
without `gevent.monkey.patch_all()`. A client belongs to the thread (gevent hub) that made it;
any number of greenlets of that thread may use it at once: responses are matched by token.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import gevent
import gevent.event
import gevent.queue
import gevent.socket
from aiocoap import Message
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type
from aiocoap.optiontypes import BlockOption

ACK_TIMEOUT = 2.0
ACK_RANDOM_FACTOR = 1.5
MAX_RETRANSMIT = 4
MAX_LATENCY = 100.0  # RFC 7252 §4.8.2; only sizes how long received message IDs are remembered
MAX_DATAGRAM = 65536
OBSERVE_HALF_SPAN = 1 << 23  # RFC 7641 §3.4: sequence numbers are 24 bits and wrap
OBSERVE_FRESH_AFTER = 128.0  # RFC 7641 §3.4: a notification this much later is fresh anyway
MIN_SZX, MAX_SZX = 0, 6  # 16..1024-byte blocks; 7 (BERT) is for CoAP over TCP only


class CoapError(Exception):
    """A request that got no usable answer; `cause` is a short word for counting failures."""

    cause = "error"


class CoapTimeout(CoapError):
    cause = "timeout"


class CoapReset(CoapError):
    cause = "reset"


class CoapClosed(CoapError):
    cause = "closed"


class BlockwiseError(CoapError):
    cause = "blockwise"


class ObservationEnded(CoapError):
    """An observation is over: the server ended it with `response` (a notification that is not
    2.xx or has no Observe option), or it was cancelled or never registered."""

    cause = "ended"

    def __init__(self, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.response = response


@dataclass(frozen=True)
class Response:
    """A response as received. `options` is aiocoap's Options of the message (for a joined
    Block2 download, those of its first block)."""

    code: Code
    payload: bytes
    options: Any

    @property
    def ok(self) -> bool:
        return bool(self.code.is_successful())

    @property
    def observe(self) -> int | None:
        value = self.options.observe
        return None if value is None else int(value)

    @property
    def block2(self) -> Any:
        """aiocoap's BlockwiseTuple (block_number, more, size_exponent), or None."""
        return self.options.block2

    @property
    def size2(self) -> int | None:
        value = self.options.size2
        return None if value is None else int(value)

    @property
    def etag(self) -> bytes | None:
        value = self.options.etag
        return None if value is None else bytes(value)

    def json(self) -> Any:
        return json.loads(self.payload)


class _Exchange:
    """One request of ours, from its first transmission until its last response."""

    __slots__ = ("acked", "done", "error", "mid", "observation", "observing", "request", "response")

    def __init__(self, request: Message, observing: bool) -> None:
        self.request = request
        self.mid: int = request.mid
        self.observing = observing  # an Observe=0 registration: its first response may stay
        self.acked = gevent.event.Event()  # any answer at all: retransmitting is over
        self.done = gevent.event.Event()  # the response (or the error) is there
        self.response: Response | None = None
        self.error: CoapError | None = None
        self.observation: Observation | None = None

    def finish(self, response: Response | None, error: CoapError | None) -> None:
        if self.done.is_set():
            return
        self.response, self.error = response, error
        self.acked.set()
        self.done.set()


_END = object()  # in an observation's queue: nothing follows


class Observation:
    """A registered observation: `first` is the registration's response; `next()` gives the
    later notifications, freshest last, stale ones (RFC 7641 §3.4) dropped."""

    def __init__(self, client: CoapClient, exchange: _Exchange | None, first: Response) -> None:
        self.first = first
        self._client = client
        self._exchange = exchange
        self._queue: gevent.queue.Queue[Any] = gevent.queue.Queue()
        self._ended: CoapError | None = None
        self._last_number = first.observe
        self._last_time = time.monotonic()
        if exchange is None:  # the server did not take the registration
            self._end(ObservationEnded(f"not observed: {first.code}", first))

    @property
    def active(self) -> bool:
        return self._ended is None

    def next(self, timeout: float | None = None) -> Response | None:
        """The next notification; None when none came within `timeout` seconds (None: wait
        for ever). ObservationEnded once the server ended it, CoapClosed once the client was
        closed, after the notifications that came before."""
        try:
            item = self._queue.get(timeout=timeout)
        except gevent.queue.Empty:
            return None
        if item is _END:
            self._queue.put(_END)  # for any other reader, and the next call
            assert self._ended is not None
            raise self._ended
        assert isinstance(item, Response)
        return item

    def cancel(self, *, active: bool = True) -> bool:
        """Ends the observation. Active: a GET with Observe=1 on the same token (RFC 7641 §3.6);
        True when the server answered it. Otherwise, or when that GET fails, the token is
        forgotten so the next notification is answered with a reset; then False."""
        exchange = self._exchange
        if self._ended is not None or exchange is None:
            return False
        self._end(ObservationEnded("cancelled"))
        self._client._forget(exchange)
        if not active:
            return False
        request = self._client._message(Code.GET, b"", exchange.request, observe=1)
        try:
            self._client._exchange(request, token=exchange.request.token)
        except CoapError:
            return False
        return True

    def _notify(self, response: Response, number: int | None) -> None:
        """A notification from the reader greenlet."""
        if self._ended is not None:
            return
        if number is None or not response.ok:
            self._end(ObservationEnded(f"ended by the server: {response.code}", response))
            return
        now = time.monotonic()
        last = self._last_number
        if last is not None and now <= self._last_time + OBSERVE_FRESH_AFTER:
            newer = (last < number and number - last < OBSERVE_HALF_SPAN) or (
                last > number and last - number > OBSERVE_HALF_SPAN
            )
            if not newer:
                return  # stale or repeated: a fresher state was already delivered
        self._last_number, self._last_time = number, now
        self._queue.put(response)

    def _end(self, error: CoapError) -> None:
        if self._ended is None:
            self._ended = error
            self._queue.put(_END)
            if self._exchange is not None and not isinstance(error, CoapClosed):
                self._client._forget(self._exchange)


class CoapClient:
    """A CoAP endpoint talking to one server from one UDP socket; see the module's text."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        source_address: tuple[str, int] | None = None,
        ack_timeout: float = ACK_TIMEOUT,
        max_retransmit: int = MAX_RETRANSMIT,
        ack_random_factor: float = ACK_RANDOM_FACTOR,
    ) -> None:
        self.timeout = timeout
        self._ack_timeout = ack_timeout
        self._max_retransmit = max_retransmit
        self._ack_random_factor = ack_random_factor
        # RFC 7252 §4.8.2: how long the server may send a message ID again.
        span = ack_timeout * (2**max_retransmit - 1) * ack_random_factor
        self._lifetime = span + 2 * MAX_LATENCY + ack_timeout
        family, kind, proto, _, address = gevent.socket.getaddrinfo(
            host, port, 0, gevent.socket.SOCK_DGRAM
        )[0]
        self._sock = gevent.socket.socket(family, kind, proto)
        try:
            if source_address is not None:
                self._sock.bind(source_address)
            # Connected: the kernel drops datagrams from anyone else.
            self._sock.connect(address)
        except BaseException:
            self._sock.close()
            raise
        self._closed = False
        self._next_mid = random.getrandbits(16)
        self._next_token = random.getrandbits(32)
        self._by_mid: dict[int, _Exchange] = {}  # confirmable requests not yet answered
        self._by_token: dict[bytes, _Exchange] = {}  # requests and observations in progress
        # Message IDs received from the server: expiry and what we answered (duplicates get the
        # same answer and are not processed again).
        self._seen: OrderedDict[int, tuple[float, bytes | None]] = OrderedDict()
        self._reader = gevent.spawn(self._read)

    @property
    def local_address(self) -> tuple[str, int]:
        name = self._sock.getsockname()
        return str(name[0]), int(name[1])

    def request(
        self,
        code: Code | int,
        path_and_query: str,
        payload: bytes = b"",
        *,
        block2_size: int | None = None,
        timeout: float | None = None,
        content_format: int | None = None,
    ) -> Response:
        """A confirmable request and its response, whatever its code. `block2_size` asks for
        that block size (Block2 block 0); `timeout` overrides the client's."""
        message = self._message(Code(code), payload, path_and_query)
        if block2_size is not None:
            message.opt.block2 = BlockOption.BlockwiseTuple(0, False, _szx(block2_size))
        if content_format is not None:
            message.opt.content_format = content_format
        return self._exchange(message, timeout=timeout).response_or_raise()

    def get_blockwise(
        self, path_and_query: str, block_size: int = 1024, *, timeout: float | None = None
    ) -> Response:
        """A GET following Block2 to the last block, the payloads joined; `timeout` is per
        block. A first response without Block2 (or an error) is returned as it is."""
        szx = _szx(block_size)
        number, offset = 0, 0
        parts: list[bytes] = []
        first: Response | None = None
        while True:
            message = self._message(Code.GET, b"", path_and_query)
            message.opt.block2 = BlockOption.BlockwiseTuple(number, False, szx)
            response = self._exchange(message, timeout=timeout).response_or_raise()
            block = response.block2
            if first is None:
                if not response.ok or block is None:
                    return response
                first = response
            else:
                _check_same(first, response, number)
            if block is None:
                raise BlockwiseError(f"block {number} came without Block2")
            if block.size_exponent > szx or block.size_exponent > MAX_SZX:
                raise BlockwiseError(f"block {number}: size grew to {block.size}")
            if block.start != offset:
                raise BlockwiseError(
                    f"block {block.block_number} starts at {block.start}, not {offset}"
                )
            if not block.is_valid_for_payload_size(len(response.payload)):
                raise BlockwiseError(
                    f"block {block.block_number}: {len(response.payload)} bytes in a "
                    f"{block.size}-byte block (more={block.more})"
                )
            parts.append(response.payload)
            offset += len(response.payload)
            if not block.more:
                break
            szx = block.size_exponent  # the server may pick a smaller size (RFC 7959 §2.4)
            number = offset // block.size
        if first.size2 is not None and first.size2 != offset:
            raise BlockwiseError(f"{offset} bytes received, Size2 said {first.size2}")
        return Response(first.code, b"".join(parts), first.options)

    def observe(self, path_and_query: str, *, timeout: float | None = None) -> Observation:
        """A GET with Observe=0. The response is the observation's `first`; when the server
        did not register it (an error, or no Observe option), the observation has ended."""
        message = self._message(Code.GET, b"", path_and_query, observe=0)
        exchange = self._exchange(message, timeout=timeout, observing=True)
        response = exchange.response_or_raise()
        if exchange.observation is not None:
            return exchange.observation
        return Observation(self, None, response)

    def close(self) -> None:
        """Fails whatever is in progress with CoapClosed and ends the observations."""
        if self._closed:
            return
        self._closed = True
        if gevent.getcurrent() is not self._reader:
            self._reader.kill()
        self._sock.close()
        for exchange in {*self._by_mid.values(), *self._by_token.values()}:
            exchange.finish(None, CoapClosed("client closed"))
            if exchange.observation is not None:
                exchange.observation._end(CoapClosed("client closed"))
        self._by_mid.clear()
        self._by_token.clear()

    def __enter__(self) -> CoapClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Requests.

    def _message(
        self,
        code: Code,
        payload: bytes,
        target: str | Message,
        *,
        observe: int | None = None,
    ) -> Message:
        """A request to `target`: a path with a query, or another request's Uri options."""
        message = Message(code=code, payload=payload)
        if isinstance(target, str):
            path, _, query = target.partition("?")
            message.opt.uri_path = [unquote(part) for part in path.split("/") if part]
            if query:
                message.opt.uri_query = [unquote(part) for part in query.split("&")]
        else:
            message.opt.uri_path = target.opt.uri_path
            message.opt.uri_query = target.opt.uri_query
        if observe is not None:
            message.opt.observe = observe
        return message

    def _exchange(
        self,
        message: Message,
        *,
        timeout: float | None = None,
        observing: bool = False,
        token: bytes | None = None,
    ) -> _Done:
        """Sends `message` as a confirmable request until it is acknowledged (RFC 7252 §4.2),
        then waits for its response, within `timeout` in all."""
        if self._closed:
            raise CoapClosed("client closed")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        message.mtype = Type.CON
        message.mid = self._new_mid()
        message.token = self._new_token() if token is None else token
        exchange = _Exchange(message, observing)
        self._by_mid[exchange.mid] = exchange
        self._by_token[message.token] = exchange
        datagram = message.encode()
        wait = random.uniform(self._ack_timeout, self._ack_timeout * self._ack_random_factor)
        transmissions = 0
        try:
            while True:
                self._send(datagram)
                transmissions += 1
                left = deadline - time.monotonic()
                if exchange.acked.wait(max(0.0, min(wait, left))):
                    break
                if left <= wait or transmissions > self._max_retransmit:
                    raise CoapTimeout(
                        f"no answer after {transmissions} transmission(s)"
                        if transmissions > self._max_retransmit
                        else "no answer within the timeout"
                    )
                wait *= 2
            if not exchange.done.wait(max(0.0, deadline - time.monotonic())):
                raise CoapTimeout("acknowledged, but no response within the timeout")
        finally:
            if exchange.observation is None:
                self._forget(exchange)  # a late answer then gets a reset
            else:
                self._by_mid.pop(exchange.mid, None)
        return _Done(exchange)

    def _forget(self, exchange: _Exchange) -> None:
        if self._by_mid.get(exchange.mid) is exchange:
            del self._by_mid[exchange.mid]
        token = exchange.request.token
        if self._by_token.get(token) is exchange:
            del self._by_token[token]

    def _new_mid(self) -> int:
        while True:
            self._next_mid = (self._next_mid + 1) & 0xFFFF
            if self._next_mid not in self._by_mid:
                return self._next_mid

    def _new_token(self) -> bytes:
        while True:
            self._next_token = (self._next_token + 1) & 0xFFFFFFFF
            token = self._next_token.to_bytes(4, "big")
            if token not in self._by_token:
                return token

    def _send(self, datagram: bytes) -> None:
        if self._closed:
            raise CoapClosed("client closed")
        self._send_quietly(datagram)

    # The reader greenlet.

    def _read(self) -> None:
        while not self._closed:
            try:
                datagram = self._sock.recv(MAX_DATAGRAM)
            except ConnectionRefusedError:
                continue  # ICMP port unreachable: retransmission or the timeout decides
            except OSError:
                if not self._closed:
                    gevent.spawn(self.close)
                return
            self._received(datagram)

    def _received(self, datagram: bytes) -> None:
        try:
            message = Message.decode(datagram)
        except Exception:
            return  # not CoAP, or options aiocoap cannot read: as good as lost
        if message.mtype in (Type.ACK, Type.RST):
            self._answered(message)
        else:
            self._incoming(message)

    def _answered(self, message: Message) -> None:
        """An ACK or a RST: the answer to a confirmable request of ours, by message ID."""
        exchange = self._by_mid.get(message.mid)
        if exchange is None:
            return  # a duplicate, or late: that exchange is over
        if message.mtype == Type.RST:
            del self._by_mid[message.mid]
            # A reset registration raises CoapReset from observe(); a reset deregistration
            # makes cancel() return False.
            exchange.finish(None, CoapReset("the server reset the request"))
            return
        if message.code == Code.EMPTY:
            exchange.acked.set()  # a separate response follows (RFC 7252 §5.2.2)
            return
        if message.token != exchange.request.token:
            return  # an ACK carrying someone else's response: not ours (RFC 7252 §5.3.2)
        del self._by_mid[message.mid]
        self._response(exchange, message)

    def _incoming(self, message: Message) -> None:
        """A CON or NON from the server: a separate response or a notification, by token."""
        now = time.monotonic()
        seen = self._seen.get(message.mid)
        if seen is not None and seen[0] > now:
            if seen[1] is not None:
                self._send_quietly(seen[1])  # our ACK or RST was lost: the same again
            return
        exchange = self._by_token.get(message.token)
        usable = (
            exchange is not None
            and not message.code.is_request()
            and message.code != Code.EMPTY
            # A notification racing the deregistration's response is not that response.
            and not (exchange.request.opt.observe == 1 and message.opt.observe is not None)
        )
        reply: bytes | None = None
        if message.mtype == Type.CON or not usable:
            # Unknown token (a late response, a notification after cancel()), a request, a
            # ping: a reset, which also ends an observation we forgot (RFC 7641 §3.6).
            answer = Message(code=Code.EMPTY)
            answer.mtype = Type.ACK if usable else Type.RST
            answer.mid = message.mid
            reply = answer.encode()
            if not usable and message.mtype != Type.CON and message.opt.observe is None:
                reply = None  # a stray NON that is no notification needs no answer
        self._remember(message.mid, now, reply)
        if reply is not None:
            self._send_quietly(reply)
        if usable and exchange is not None:
            self._response(exchange, message)

    def _response(self, exchange: _Exchange, message: Message) -> None:
        response = Response(message.code, message.payload, message.opt)
        number = response.observe
        if exchange.observation is not None:
            exchange.observation._notify(response, number)
            return
        if exchange.done.is_set():
            return
        if exchange.observing and number is not None and response.ok:
            exchange.observation = Observation(self, exchange, response)
        exchange.finish(response, None)

    def _remember(self, mid: int, now: float, reply: bytes | None) -> None:
        while self._seen:
            oldest, (expiry, _) = next(iter(self._seen.items()))
            if expiry > now:
                break
            del self._seen[oldest]
        self._seen.pop(mid, None)
        self._seen[mid] = (now + self._lifetime, reply)

    def _send_quietly(self, datagram: bytes) -> None:
        if not self._closed:
            # An ICMP error reported late, a full buffer: as if the datagram were lost.
            with contextlib.suppress(OSError):
                self._sock.send(datagram)


class _Done:
    """A finished exchange, for the caller: its response or its error."""

    __slots__ = ("exchange",)

    def __init__(self, exchange: _Exchange) -> None:
        self.exchange = exchange

    @property
    def observation(self) -> Observation | None:
        return self.exchange.observation

    def response_or_raise(self) -> Response:
        if self.exchange.error is not None:
            raise self.exchange.error
        assert self.exchange.response is not None
        return self.exchange.response


def _szx(block_size: int) -> int:
    szx = block_size.bit_length() - 5
    if block_size != 1 << (szx + 4) or not MIN_SZX <= szx <= MAX_SZX:
        raise ValueError(f"a block size is a power of two from 16 to 1024, not {block_size}")
    return szx


def _check_same(first: Response, response: Response, number: int) -> None:
    """Later blocks must be of the same representation as the first (RFC 7959 §2.4)."""
    if response.code != first.code:
        raise BlockwiseError(f"block {number} answered {response.code}, block 0 {first.code}")
    if response.etag != first.etag:
        raise BlockwiseError(f"block {number}: the ETag changed (the resource changed)")
    if response.size2 is not None and first.size2 is not None and response.size2 != first.size2:
        raise BlockwiseError(f"block {number}: Size2 {response.size2}, block 0 {first.size2}")
