"""The simulator's REST side: a tenant administrator's calls, in bulk and concurrently.

Any ThingsBoard-compatible server, by URL and tenant credentials: make (or find again) the fleet's
devices, upload and assign the package, or wait for an operator to assign one, and read back what
the server recorded of each device. Concurrency is bounded, so a fleet of thousands does not open
thousands of connections at once.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from otaclient import protocol as wire
from otatarget.rest import LOGIN_PATH, Entity, RestError, check, login_body, profile_body

CONCURRENCY = 16
TIMEOUT = 60.0
POLL_INTERVAL = 1.0
TOKEN_PREFIX = "sim-"
CSV_HEADER = ["name", "token"]
PACKAGE_FIELDS = {"FIRMWARE": "firmwareId", "SOFTWARE": "softwareId"}

T = TypeVar("T")
R = TypeVar("R")


class AdminError(RestError):
    """A REST call of the simulator's answered otherwise than it needs (method, path, status and
    the start of the server's body in the message)."""


def token_for(name: str) -> str:
    """A device's access token, from its name alone: a rerun with the same names (the same seed)
    finds the same tokens. Hashed, so any name gives a short token that is safe in a URL path."""
    return TOKEN_PREFIX + hashlib.sha256(name.encode()).hexdigest()[:28]


def read_tokens_csv(path: Path) -> list[tuple[str, str]]:
    """(name, token) of devices an operator made, from a CSV file with the header `name,token`."""
    found: list[tuple[str, str]] = []
    names: set[str] = set()
    with path.open(newline="") as rows:
        reader = csv.reader(rows)
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if reader.line_num == 1:
                if cells != CSV_HEADER:
                    raise ValueError(f"{where}: the header must be 'name,token', not {row!r}")
                continue
            if len(cells) != 2 or not all(cells):
                raise ValueError(f"{where}: expected a name and a token, got {row!r}")
            if cells[0] in names:
                raise ValueError(f"{where}: device {cells[0]!r} is named twice")
            names.add(cells[0])
            found.append((cells[0], cells[1]))
    return found


# Later than any telemetry: the upper bound of a whole history.
END_OF_TIME_MS = 4_000_000_000_000


async def bounded(
    items: Iterable[T], work: Callable[[T], Awaitable[R]], concurrency: int
) -> list[R]:
    """`work` on every item, at most `concurrency` at a time; results in the items' order. The
    first failure cancels the rest and is raised as itself."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    gate = asyncio.Semaphore(concurrency)

    async def one(item: T) -> R:
        async with gate:
            return await work(item)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def login(url: str, username: str, password: str, timeout: float = TIMEOUT) -> Admin:
    """A tenant administrator's session; a refused login raises AdminError (401)."""
    http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout)
    try:
        answer = check(
            await http.post(LOGIN_PATH, json=login_body(username, password)), 200, AdminError
        )
    except BaseException:
        await http.aclose()
        raise
    http.headers["X-Authorization"] = "Bearer " + str(answer["token"])
    return Admin(http)


@dataclass
class Admin:
    """A logged-in REST client (X-Authorization: Bearer ...) and the simulator's calls on it."""

    http: httpx.AsyncClient

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Admin:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def call(self, method: str, path: str, expect: int | None = 200, **kwargs: Any) -> Any:
        """A REST call that must answer `expect`; its JSON (or bytes, or None when empty)."""
        return check(await self.http.request(method, path, **kwargs), expect, AdminError)

    async def find_profile(self, name: str) -> str:
        """The id of the device profile named `name` (an operator's, for --profile)."""
        page = await self.call(
            "GET", "/api/deviceProfiles", params={"pageSize": 100, "page": 0, "textSearch": name}
        )
        for profile in page.get("data", []):
            if profile.get("name") == name:
                return str(profile["id"]["id"])
        raise ValueError(f"no device profile named {name!r}")

    async def create_profile(self, name: str) -> str:
        created = await self.call("POST", "/api/deviceProfile", json=profile_body(name))
        return str(created["id"]["id"])

    async def create_devices(
        self, profile_id: str, names: list[str], concurrency: int = CONCURRENCY
    ) -> list[tuple[str, str]]:
        """(device id, token) of each named device in `profile_id`, made with the token
        `token_for(name)`, or found again when the name is taken (a rerun): then its own token,
        and moved into `profile_id` if it was elsewhere."""
        return await bounded(names, lambda name: self._device(profile_id, name), concurrency)

    async def _device(self, profile_id: str, name: str) -> tuple[str, str]:
        token = token_for(name)
        response = await self.http.post(
            "/api/device",
            params={"accessToken": token},
            json={"name": name, "deviceProfileId": _ref("DEVICE_PROFILE", profile_id)},
        )
        if response.status_code != 400:  # ThingsBoard's answer to a name taken
            return str(check(response, 200, AdminError)["id"]["id"]), token
        found = await self.http.get("/api/tenant/devices", params={"deviceName": name})
        if found.status_code == 404:
            check(response, 200, AdminError)  # the 400 was about something else: say what
        device = check(found, 200, AdminError)
        device_id = str(device["id"]["id"])
        if device["deviceProfileId"]["id"] != profile_id:
            device["deviceProfileId"] = _ref("DEVICE_PROFILE", profile_id)
            await self.call("POST", "/api/device", json=device)
        credentials = await self.call("GET", f"/api/device/{device_id}/credentials")
        return device_id, str(credentials["credentialsId"])

    async def find_devices(self, names: list[str], concurrency: int = CONCURRENCY) -> list[str]:
        """The ids of devices an operator made, by name."""

        async def find(name: str) -> str:
            found = await self.call("GET", "/api/tenant/devices", params={"deviceName": name})
            return str(found["id"]["id"])

        return await bounded(names, find, concurrency)

    async def upload_package(
        self,
        profile_id: str,
        title: str,
        version: str,
        data: bytes,
        algorithm: str = "SHA256",
        package_type: str = "FIRMWARE",
    ) -> Entity:
        """A package with its data, the server computing the checksum with `algorithm`."""
        info = await self.call(
            "POST",
            "/api/otaPackage",
            json={
                "title": title,
                "version": version,
                "type": package_type,
                "deviceProfileId": _ref("DEVICE_PROFILE", profile_id),
            },
        )
        package: Entity = await self.call(
            "POST",
            f"/api/otaPackage/{info['id']['id']}",
            params={"checksumAlgorithm": algorithm},
            files={"file": (f"{title}-{version}.bin", data, "application/octet-stream")},
        )
        return package

    async def assign_to_profile(self, profile_id: str, package: Entity) -> Entity:
        """Makes the package the profile's firmware (or software, by its type); the profile as
        saved."""
        profile = await self.call("GET", f"/api/deviceProfile/{profile_id}")
        profile[_field(package)] = package["id"]
        saved: Entity = await self.call("POST", "/api/deviceProfile", json=profile)
        return saved

    async def assign_to_devices(
        self, device_ids: list[str], package: Entity, concurrency: int = CONCURRENCY
    ) -> None:
        """Makes the package each device's own, over its profile's."""

        async def assign(device_id: str) -> None:
            device = await self.call("GET", f"/api/device/{device_id}")
            device[_field(package)] = package["id"]
            await self.call("POST", "/api/device", json=device)

        await bounded(device_ids, assign, concurrency)

    async def wait_for_assignment(
        self,
        profile_id: str,
        timeout: float,
        package_type: str = "FIRMWARE",
        interval: float = POLL_INTERVAL,
    ) -> Entity:
        """The package an operator assigns to the profile, polled for until `timeout` seconds
        have passed (then TimeoutError)."""
        field = PACKAGE_FIELDS[package_type]
        deadline = time.monotonic() + timeout
        while True:
            assigned = (await self.call("GET", f"/api/deviceProfile/{profile_id}")).get(field)
            if assigned:
                package: Entity = await self.call("GET", f"/api/otaPackage/info/{assigned['id']}")
                return package
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"no {package_type.lower()} was assigned to profile {profile_id} "
                    f"within {timeout} s"
                )
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    async def server_states(
        self, device_ids: list[str], kind: str = wire.FIRMWARE, concurrency: int = CONCURRENCY
    ) -> dict[str, tuple[str | None, list[int]]]:
        """Per device, the latest state it reported (`fw_state`, or `sw_state` for kind "sw") as
        the server recorded it (None: none), and the times (ms) the server wrote INITIATED: when
        it notified the device, which is what its pace is about."""
        key = str(wire.state_key(kind))

        async def history(device_id: str) -> tuple[str | None, list[int]]:
            series = await self.call(
                "GET",
                f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries",
                params={"keys": key, "startTs": 0, "endTs": END_OF_TIME_MS, "limit": 1000},
            )
            points = series.get(key) or []  # newest first
            latest = points[0].get("value") if points else None
            notified = sorted(int(p["ts"]) for p in points if p.get("value") == "INITIATED")
            return (None if latest is None else str(latest)), notified

        found = await bounded(device_ids, history, concurrency)
        return dict(zip(device_ids, found, strict=True))

    async def delete_devices(self, device_ids: list[str], concurrency: int = CONCURRENCY) -> None:
        """Deletes the devices; one already gone (404) counts as deleted."""

        async def delete(device_id: str) -> None:
            response = await self.http.delete(f"/api/device/{device_id}")
            if response.status_code != 404:
                check(response, 200, AdminError)

        await bounded(device_ids, delete, concurrency)


def _ref(entity_type: str, entity_id: str) -> Entity:
    return {"entityType": entity_type, "id": entity_id}


def _field(package: Entity) -> str:
    """firmwareId or softwareId: where a device or profile names a package of this type."""
    return PACKAGE_FIELDS[str(package["type"])]
