"""Attributes and telemetry of devices as users read and write them (ThingsBoard's plugin API)."""

from __future__ import annotations

from uuid import UUID

from ..domain.aggregation import Aggregation, aggregate, check_intervals
from ..domain.enums import Authority
from ..domain.errors import BadRequest
from ..domain.inputs import InputLimits, parse_json
from ..domain.telemetry import Attribute, AttributeScope, TelemetryPoint, parse_attributes
from .access import Principal, visible
from .ports import Clock, Notifier, Storage

MAX_POINTS = 100_000


class Telemetry:
    def __init__(
        self, storage: Storage, clock: Clock, notifier: Notifier, limits: InputLimits
    ) -> None:
        self._limits = limits
        self._storage = storage
        self._clock = clock
        self._notifier = notifier

    async def _device(self, principal: Principal, device_id: UUID) -> None:
        principal.require_tenant()
        async with self._storage.reading() as repos:
            visible(principal, await repos.devices.get(device_id))

    async def save_attributes(
        self, principal: Principal, device_id: UUID, scope: AttributeScope, raw: bytes
    ) -> None:
        principal.require(Authority.TENANT_ADMIN)
        if scope is AttributeScope.CLIENT_SCOPE:
            raise BadRequest("Client-side attributes are written by the device only")
        values = parse_attributes(parse_json(raw, self._limits), self._limits.max_keys)
        await self._device(principal, device_id)
        async with self._storage.transaction() as repos:
            await repos.device_data.save_attributes(device_id, scope, values, self._clock.now_ms())
        if scope is AttributeScope.SHARED_SCOPE and values:
            await self._notifier.publish(device_id, values)

    async def delete_attributes(
        self, principal: Principal, device_id: UUID, scope: AttributeScope, keys: list[str]
    ) -> None:
        principal.require(Authority.TENANT_ADMIN)
        await self._device(principal, device_id)
        async with self._storage.transaction() as repos:
            deleted = await repos.device_data.delete_attributes(device_id, scope, keys)
        if scope is AttributeScope.SHARED_SCOPE and deleted:
            await self._notifier.publish(device_id, {"deleted": deleted})

    async def attributes(
        self,
        principal: Principal,
        device_id: UUID,
        scopes: list[AttributeScope],
        keys: list[str] | None,
    ) -> list[Attribute]:
        await self._device(principal, device_id)
        async with self._storage.reading() as repos:
            return [
                a
                for scope in scopes
                for a in await repos.device_data.attributes(device_id, scope, keys)
            ]

    async def latest(
        self, principal: Principal, device_id: UUID, keys: list[str] | None
    ) -> dict[str, TelemetryPoint]:
        await self._device(principal, device_id)
        async with self._storage.reading() as repos:
            return await repos.device_data.latest_telemetry(device_id, keys)

    async def history(
        self,
        principal: Principal,
        device_id: UUID,
        keys: list[str],
        start_ts: int,
        end_ts: int,
        limit: int,
        descending: bool,
    ) -> dict[str, list[TelemetryPoint]]:
        await self._device(principal, device_id)
        if not 0 < limit <= MAX_POINTS:
            raise BadRequest(f"limit must be between 1 and {MAX_POINTS}")
        async with self._storage.reading() as repos:
            return await repos.device_data.telemetry(
                device_id, keys, start_ts, end_ts, limit, descending
            )

    async def aggregated(
        self,
        principal: Principal,
        device_id: UUID,
        keys: list[str],
        start_ts: int,
        end_ts: int,
        interval: int,
        aggregation: Aggregation,
    ) -> dict[str, list[TelemetryPoint]]:
        """Each key's values aggregated over `interval` ms buckets (domain.aggregation)."""
        await self._device(principal, device_id)
        check_intervals(start_ts, end_ts, interval)
        async with self._storage.reading() as repos:
            series = await repos.device_data.telemetry(
                device_id, keys, start_ts, end_ts, MAX_POINTS + 1, descending=False
            )
        if any(len(points) > MAX_POINTS for points in series.values()):
            raise BadRequest(
                f"More than {MAX_POINTS} values of a key to aggregate; shorten the time range"
            )
        found = {
            key: aggregate(points, key, start_ts, end_ts, interval, aggregation)
            for key, points in series.items()
        }
        return {key: points for key, points in found.items() if points}

    async def attribute_keys(
        self, principal: Principal, device_id: UUID, scopes: list[AttributeScope]
    ) -> list[str]:
        await self._device(principal, device_id)
        async with self._storage.reading() as repos:
            return await repos.device_data.attribute_keys(device_id, scopes)

    async def keys(self, principal: Principal, device_id: UUID) -> list[str]:
        await self._device(principal, device_id)
        async with self._storage.reading() as repos:
            return await repos.device_data.telemetry_keys(device_id)
