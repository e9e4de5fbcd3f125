"""ThingsBoard's CoAP device API (spec §6.4) on aiocoap.

Downloads answer Block2 themselves and statelessly: any block may be asked for first, and every
block carries Size2, so a device can resume where it stopped. (aiocoap's own blockwise cache
answers 4.08 to a block > 0 that was not preceded by block 0.)

What datagrams reach this resource, and what aiocoap may log, is decided in coap_guard.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiocoap
import aiocoap.error
import aiocoap.resource
from aiocoap.numbers.codes import Code

from ..domain.enums import OtaPackageType
from ..domain.errors import BadRequest, NotFound, OtaError, Unauthorized
from ..domain.ota import chunk_range
from ..domain.telemetry import split_keys
from ..services.device_api import DeviceApi, DeviceIdentity
from ..sessions import SessionRegistry, Subscription
from ..throttled_log import ThrottledLog
from .coap_guard import LIBRARY_LOGGER, LibraryLogFilter, server_context

log = logging.getLogger(__name__)
DEFAULT_SZX = 6  # 1024-byte blocks when the client did not choose
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


@dataclass(eq=False)
class _Observation:
    """One device's observation of its attributes: updates not yet sent."""

    device: DeviceIdentity
    pending: dict[str, Any] = field(default_factory=dict)
    started: bool = False
    subscription: Subscription | None = None


class DeviceSite(aiocoap.resource.ObservableResource, aiocoap.resource.PathCapable):  # type: ignore[misc]
    """The whole CoAP tree: /fw/{token}, /sw/{token} and /api/v1/{token}/... ."""

    def __init__(self, device_api: DeviceApi, sessions: SessionRegistry) -> None:
        super().__init__()
        self._api = device_api
        self._sessions = sessions
        self._observations: dict[int, _Observation] = {}

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return False

    async def add_observation(self, request: aiocoap.Message, serverobservation: Any) -> None:
        path = request.opt.uri_path
        if len(path) != 4 or path[:2] != ("api", "v1") or path[3] != "attributes":
            return
        try:
            device = await self._api.authenticate(path[2])
        except Unauthorized:
            return
        observation = _Observation(device)
        key = id(request)

        def on_update(update: dict[str, Any]) -> None:
            observation.pending = merge_updates(observation.pending, update)
            serverobservation.trigger()

        def cancel() -> None:
            if observation.subscription is not None:
                observation.subscription.close()
            self._observations.pop(key, None)

        observation.subscription = self._sessions.subscribe(device.device_id, on_update)
        self._observations[key] = observation
        serverobservation.accept(cancel)

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        try:
            return await self._route(request)
        except OtaError as error:
            return _message(
                _CODES.get(error.status, Code.INTERNAL_SERVER_ERROR), error.message.encode()
            )
        except Exception:
            log.exception("CoAP request failed")
            return _message(Code.INTERNAL_SERVER_ERROR)

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

    async def _telemetry(self, request: aiocoap.Message, token: str) -> aiocoap.Message:
        device = await self._api.authenticate(token)
        await self._api.post_telemetry(device, request.payload)
        return _message(Code.CREATED)

    async def _post_attributes(self, request: aiocoap.Message, token: str) -> aiocoap.Message:
        device = await self._api.authenticate(token)
        await self._api.post_attributes(device, request.payload)
        return _message(Code.CREATED)

    async def _get_attributes(self, request: aiocoap.Message, token: str) -> aiocoap.Message:
        observation = self._observations.get(id(request))
        if observation is not None and observation.started:
            # A notification: what changed since the last one, as ThingsBoard pushes it.
            update, observation.pending = observation.pending, {}
            return _message(Code.CONTENT, _json(update))
        if observation is not None:
            observation.started = True
        device = await self._api.authenticate(token)
        query = _query(request)
        limit = self._api.limits.max_keys
        answer = await self._api.attributes(
            device,
            split_keys(query.get("clientKeys"), limit=limit),
            split_keys(query.get("sharedKeys"), limit=limit),
        )
        return _message(Code.CONTENT, _json(answer))

    async def _download(
        self, request: aiocoap.Message, token: str, kind: OtaPackageType
    ) -> aiocoap.Message:
        query = _query(request)
        chunk_size, index = _int(query, "size"), _int(query, "chunk")
        _, package = await self._api.download_target(token, kind)
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
        return response


def _query(request: aiocoap.Message) -> dict[str, str]:
    pairs = (item.partition("=") for item in request.opt.uri_query)
    return {key: value for key, _, value in pairs}


def _int(query: dict[str, str], name: str) -> int:
    text = query.get(name) or "0"
    if not text.isdigit():
        raise BadRequest(f"Parameter '{name}' must be a non-negative integer")
    return int(text)


class CoapServer:
    def __init__(
        self, device_api: DeviceApi, sessions: SessionRegistry, warnings: ThrottledLog
    ) -> None:
        self._site = DeviceSite(device_api, sessions)
        self._warnings = warnings
        self._log_filter = LibraryLogFilter(warnings)
        self._context: aiocoap.Context | None = None

    async def start(self, host: str, port: int) -> None:
        logging.getLogger(LIBRARY_LOGGER).addFilter(self._log_filter)
        self._context = await server_context(self._site, (host, port), self._warnings)

    async def close(self) -> None:
        if self._context is not None:
            await self._context.shutdown()
        logging.getLogger(LIBRARY_LOGGER).removeFilter(self._log_filter)
