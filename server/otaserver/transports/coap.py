"""ThingsBoard's CoAP device API (spec §6.4) on aiocoap.

Downloads answer Block2 themselves and statelessly: any block may be asked for first, and every
block carries Size2, so a device can resume where it stopped. (aiocoap's own blockwise cache
answers 4.08 to a block > 0 that was not preceded by block 0.)

What datagrams reach this resource, and what aiocoap may log, is decided in coap_guard.py;
how request options, queries and tokens are read, in coap_request.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

import aiocoap
import aiocoap.resource
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import CON

from ..domain.enums import OtaPackageType
from ..domain.errors import BadRequest, NotFound, OtaError
from ..domain.ota import chunk_range
from ..metrics import Metrics
from ..services.device_api import DeviceApi, DeviceIdentity
from ..sessions import SessionRegistry, Transport
from ..throttled_log import ThrottledLog
from . import coap_request
from .coap_guard import LIBRARY_LOGGER, LibraryLogFilter, server_context

T = TypeVar("T")
log = logging.getLogger(__name__)
# CoAP has no connection: a device that sends nothing for this long and then a request is
# logged as a session again.
SESSION_IDLE_SECONDS = 300.0
DEFAULT_SZX = 6  # 1024-byte blocks when the client did not choose
SHUTDOWN_SECONDS = 5.0
OBSERVE_SEQUENCE_SPAN = 1 << 24  # Observe numbers are 24 bits (RFC 7641 §4.4)
_CODES = {
    400: Code.BAD_REQUEST,
    401: Code.UNAUTHORIZED,
    403: Code.FORBIDDEN,
    404: Code.NOT_FOUND,
    413: Code.REQUEST_ENTITY_TOO_LARGE,
}


def _message(code: Code, payload: bytes = b"", **options: Any) -> aiocoap.Message:
    message = aiocoap.Message(code=code, payload=payload)
    for name, value in options.items():
        setattr(message.opt, name, value)
    return message


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _notify(pipe: Any, notification: aiocoap.Message) -> bool:
    """Sends an Observe response, the first or a later notification; False when the observer
    went away as it was sent.

    aiocoap 0.4.17 raises TypeError from inside add_response when sending the response ends
    the observation (its pipe's callback list becomes False mid-loop), and its own handler of that
    error then fails to log it: a traceback per departed observer. Both are aiocoap's; the
    observation is over either way."""
    try:
        pipe.add_response(notification, is_last=False)
    except TypeError:
        return False
    return True


def merge_updates(pending: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Two attribute updates as one: CoAP observe keeps only the latest notification."""
    merged = {k: v for k, v in pending.items() if k != "deleted"}
    deleted = list(pending.get("deleted", []))
    for key, value in update.items():
        if key == "deleted":
            for gone in value:
                merged.pop(gone, None)
                if gone not in deleted:
                    deleted.append(gone)
        else:
            merged[key] = value
            if key in deleted:
                deleted.remove(key)
    return {**merged, "deleted": deleted} if deleted else merged


class DeviceSite(aiocoap.resource.Resource, aiocoap.resource.PathCapable):  # type: ignore[misc]
    """The whole CoAP tree: /fw/{token}, /sw/{token} and /api/v1/{token}/... .

    It answers through `render_to_pipe` itself rather than aiocoap's ObservableResource, whose
    handling of an Observe request that it does not accept fails with a traceback (aiocoap
    0.4.17, interfaces.py: `_cancellation_callback` is then never set). Nothing here raises into
    aiocoap: an exception after the last response makes aiocoap's pipe fail in its own logging.
    """

    def __init__(
        self,
        device_api: DeviceApi,
        sessions: SessionRegistry,
        warnings: ThrottledLog,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__()
        self._api = device_api
        self._sessions = sessions
        self._warnings = warnings
        self._metrics = metrics
        self._last_seen: dict[UUID, float] = {}  # device id -> monotonic time of its last request
        self.running: set[asyncio.Future[Any]] = set()  # work that outlives its request

    def _seen(self, device: DeviceIdentity) -> None:
        """Logs a device's first request, and its first after an idle spell, as a session."""
        now = time.monotonic()
        last = self._last_seen.pop(device.device_id, None)
        if last is None or now - last > SESSION_IDLE_SECONDS:
            log.info("CoAP session: first request of device %r", device.name, extra=_COAP)
        self._last_seen[device.device_id] = now  # re-inserted: the dict stays oldest first
        while self._last_seen:  # forget idle devices, so that the memory stays bounded
            oldest, when = next(iter(self._last_seen.items()))
            if now - when <= SESSION_IDLE_SECONDS:
                break
            del self._last_seen[oldest]

    def fast_download(self, request: aiocoap.Message) -> Awaitable[aiocoap.Message | None] | None:
        """For coap_guard: the answer to a confirmable GET of a download block, to be sent
        piggybacked without aiocoap's layers; None (now or once awaited) leaves the request to
        aiocoap, which answers it as it always has (errors included)."""
        path = request.opt.uri_path
        if (
            request.mtype is not CON
            or request.code != Code.GET
            or len(path) != 2
            or path[0] not in ("fw", "sw")
            or request.opt.observe is not None
            or request.opt.no_response is not None
            or coap_request.option_problem(request) is not None
        ):
            return None
        kind = OtaPackageType.FIRMWARE if path[0] == "fw" else OtaPackageType.SOFTWARE
        return self._fast_download(request, path[1], kind)

    async def _fast_download(
        self, request: aiocoap.Message, token: str, kind: OtaPackageType
    ) -> aiocoap.Message | None:
        try:
            return await self._download(request, token, kind)
        except Exception:
            return None

    async def render_to_pipe(self, pipe: Any) -> None:
        request = pipe.request
        problem = coap_request.option_problem(request)
        if problem is not None:
            code, diagnostic = problem
            pipe.add_response(_message(code, diagnostic.encode()), is_last=True)
        elif coap_request.observed(request) and _is_attributes(request.opt.uri_path):
            await self._observe(pipe, request.opt.uri_path[2])
        else:
            pipe.add_response(await self._finished(self.render(request)), is_last=True)

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        return await self._answer(lambda: self._route(request))

    async def _answer(self, work: Callable[[], Awaitable[T]]) -> T | aiocoap.Message:
        try:
            return await work()
        except Exception as error:
            return self._failure(error)

    def _failure(self, error: Exception) -> aiocoap.Message:
        if isinstance(error, OtaError):
            code = _CODES.get(error.status, Code.INTERNAL_SERVER_ERROR)
            return _message(code, error.message.encode())
        # A bug of ours, or the database gone: worth a traceback, but not one per request.
        trace = "".join(traceback.format_exception(error)).rstrip()
        self._warnings.warning("coap-failed", f"coap-failed: a CoAP request failed\n{trace}")
        return _message(Code.INTERNAL_SERVER_ERROR)

    async def _finished(self, work: Awaitable[T]) -> T:
        """`work`, finished even when aiocoap cancels the request's task (its peer lost
        interest: a new request on the same token, a reset, an ICMP error): a database call
        cancelled half way costs asyncpg its connection and the log an error line. The answer
        is then merely not sent. `work` must not raise."""
        task = asyncio.ensure_future(work)
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return await asyncio.shield(task)

    async def _observe(self, pipe: Any, token: str) -> None:
        """The attributes, then each shared-attribute update until the observer goes away
        (aiocoap then cancels this task)."""
        device = await self._finished(self._answer(lambda: self._device(token)))
        if isinstance(device, aiocoap.Message):
            pipe.add_response(device, is_last=True)
            return
        pending: dict[str, Any] = {}
        changed = asyncio.Event()

        def on_update(update: dict[str, Any]) -> None:
            nonlocal pending
            pending = merge_updates(pending, update)
            changed.set()

        # Subscribed before the attributes are read, so that no update falls in between.
        subscription = self._sessions.subscribe(device.device_id, on_update, Transport.COAP)
        log.info("CoAP observation registered: device %r", device.name, extra=_COAP)
        try:
            first = await self._finished(
                self._answer(lambda: self._attributes(pipe.request, device))
            )
            if not first.code.is_successful():
                pipe.add_response(first, is_last=True)
                return
            number = 0
            first.opt.observe = number
            if not _notify(pipe, first):
                return
            while True:
                await changed.wait()
                changed.clear()
                # A notification: what changed since the last one, as ThingsBoard pushes it.
                update, pending = pending, {}
                number = (number + 1) % OBSERVE_SEQUENCE_SPAN
                notification = _message(Code.CONTENT, _json(update), observe=number)
                if not _notify(pipe, notification):
                    return
        finally:
            subscription.close()
            log.info("CoAP observation ended: device %r", device.name, extra=_COAP)

    async def _route(self, request: aiocoap.Message) -> aiocoap.Message:
        path, method = request.opt.uri_path, request.code
        if len(path) == 2 and path[0] in ("fw", "sw"):
            if method != Code.GET:
                return _message(Code.METHOD_NOT_ALLOWED)
            kind = OtaPackageType.FIRMWARE if path[0] == "fw" else OtaPackageType.SOFTWARE
            return await self._download(request, path[1], kind)
        if len(path) != 4 or path[:2] != ("api", "v1"):
            return _message(Code.NOT_FOUND)
        token, feature = path[2], path[3]
        handlers: dict[tuple[str, Code], Callable[[], Awaitable[aiocoap.Message]]] = {
            ("telemetry", Code.POST): lambda: self._telemetry(request, token),
            ("attributes", Code.POST): lambda: self._post_attributes(request, token),
            ("attributes", Code.GET): lambda: self._get_attributes(request, token),
            ("firmware", Code.GET): lambda: self._download(request, token, OtaPackageType.FIRMWARE),
            ("software", Code.GET): lambda: self._download(request, token, OtaPackageType.SOFTWARE),
        }
        handler = handlers.get((feature, method))
        if handler is None:
            known = {name for name, _ in handlers}
            return _message(Code.METHOD_NOT_ALLOWED if feature in known else Code.NOT_FOUND)
        return await handler()

    async def _device(self, token: str) -> DeviceIdentity:
        device = await self._api.authenticate(coap_request.device_token(token))
        self._seen(device)
        return device

    async def _telemetry(self, request: aiocoap.Message, token: str) -> aiocoap.Message:
        device = await self._device(token)
        await self._api.post_telemetry(device, request.payload)
        return _message(Code.CREATED)

    async def _post_attributes(self, request: aiocoap.Message, token: str) -> aiocoap.Message:
        device = await self._device(token)
        await self._api.post_attributes(device, request.payload)
        return _message(Code.CREATED)

    async def _get_attributes(self, request: aiocoap.Message, token: str) -> aiocoap.Message:
        return await self._attributes(request, await self._device(token))

    async def _attributes(
        self, request: aiocoap.Message, device: DeviceIdentity
    ) -> aiocoap.Message:
        query = coap_request.query(request)
        limit = self._api.limits.max_keys
        answer = await self._api.attributes(
            device,
            coap_request.keys(query, "clientKeys", limit),
            coap_request.keys(query, "sharedKeys", limit),
        )
        return _message(Code.CONTENT, _json(answer))

    async def _download(
        self, request: aiocoap.Message, token: str, kind: OtaPackageType
    ) -> aiocoap.Message:
        started = time.perf_counter()
        query = coap_request.query(request)
        chunk_size, index = coap_request.chunk_size(query), coap_request.chunk_index(query)
        device, package = await self._api.download_target(coap_request.device_token(token), kind)
        self._seen(device)
        data = None if package is None else self._api.data_of(package)
        if package is None or data is None:
            raise NotFound(f"No {kind.value.lower()} is assigned to this device")
        for name, value in (("title", package.title), ("version", package.version)):
            if name in query and query[name] != value:
                raise BadRequest(f"The assigned {kind.value.lower()} has another {name}")
        start, end = chunk_range(data.size, chunk_size, index)
        # Block2 cuts the slice into blocks; without it, the first block (or all of a small one).
        block = request.opt.block2
        szx = block.size_exponent if block is not None else DEFAULT_SZX
        number = block.block_number if block is not None else 0
        block_size = 1 << (szx + 4)
        first = min(start + number * block_size, end)
        last = min(first + block_size, end)
        payload = b"".join([piece async for piece in self._api.read(data, first, last)])
        response = _message(Code.CONTENT, payload, size2=end - start)
        if block is not None or end - start > block_size:
            more = last < end
            response.opt.block2 = aiocoap.optiontypes.BlockOption.BlockwiseTuple(number, more, szx)
        if self._metrics is not None:
            self._metrics.chunk_served(Transport.COAP, time.perf_counter() - started)
        return response


_COAP = {"transport": "coap"}


def _is_attributes(path: tuple[str, ...]) -> bool:
    return len(path) == 4 and path[:2] == ("api", "v1") and path[3] == "attributes"


class CoapServer:
    def __init__(
        self,
        device_api: DeviceApi,
        sessions: SessionRegistry,
        warnings: ThrottledLog,
        metrics: Metrics | None = None,
    ) -> None:
        self._site = DeviceSite(device_api, sessions, warnings, metrics)
        self._warnings = warnings
        self._log_filter = LibraryLogFilter(warnings)
        self._context: aiocoap.Context | None = None

    async def start(self, sock: socket.socket) -> None:
        """Serves on `sock`, a bound UDP socket (otaserver.listeners)."""
        logging.getLogger(LIBRARY_LOGGER).addFilter(self._log_filter)
        self._context = await server_context(self._site, sock, self._warnings)

    async def close(self) -> None:
        if self._context is not None:
            await self._context.shutdown()
        if self._site.running:  # let the database calls in hand end before the database does
            await asyncio.wait(self._site.running, timeout=SHUTDOWN_SECONDS)
        logging.getLogger(LIBRARY_LOGGER).removeFilter(self._log_filter)
