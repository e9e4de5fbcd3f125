"""The server under test, as a tenant administrator reaches it: REST calls and entity helpers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from otaclient import protocol as wire
from otatarget.rest import Entity as Entity  # the checks' name for a JSON entity
from otatarget.rest import call, client, new_tenant_admin, profile_body
from otatarget.waiting import wait_until

from .rules import broken

# The largest chunk a device may ask for over MQTT: otakit's default (`--mqtt-max-chunk-size`),
# the suite's default too, and ThingsBoard's (NETTY_MAX_PAYLOAD_SIZE), taken with --thingsboard.
OTAKIT_MQTT_MAX_CHUNK = 1024 * 1024
THINGSBOARD_MQTT_MAX_CHUNK = 65536


# The message of a failed check: which rule broke (an id of otaconformance.ruledata), and how.
rule = broken


@dataclass(frozen=True)
class Kind:
    """Firmware or software: the two work alike, under other names (spec §1)."""

    type: str  # the package type, FIRMWARE or SOFTWARE
    prefix: str  # of keys and MQTT topics: fw, sw
    field: str  # of a device or profile: firmwareId, softwareId
    path: str  # of the HTTP download: firmware, software

    def key(self, suffix: str) -> str:
        return str(wire.key(self.prefix, suffix))

    @property
    def state(self) -> str:
        return str(wire.state_key(self.prefix))

    def __str__(self) -> str:  # the id of a parametrized check
        return self.prefix


FIRMWARE = Kind("FIRMWARE", wire.FIRMWARE, "firmwareId", "firmware")
SOFTWARE = Kind("SOFTWARE", wire.SOFTWARE, "softwareId", "software")
KINDS = (FIRMWARE, SOFTWARE)


def kind_of(package: Entity) -> Kind:
    return FIRMWARE if package["type"] == FIRMWARE.type else SOFTWARE


# What the suite deletes after its run, in this order: a device goes before its profile and its
# package; a package a profile uses goes after the profile (the passes repeat for what is left).
DELETE_PATHS = {
    "DEVICE": "/api/device/{}",
    "CUSTOMER": "/api/customer/{}",
    "DEVICE_PROFILE": "/api/deviceProfile/{}",
    "OTA_PACKAGE": "/api/otaPackage/{}",
}
CLEANUP_PASSES = 3
NAMES = {
    "DEVICE": "device(s)",
    "CUSTOMER": "customer(s)",
    "DEVICE_PROFILE": "device profile(s)",
    "OTA_PACKAGE": "package(s)",
    "TENANT": "tenant(s)",
}


@dataclass
class Created:
    """What the suite created, noted from the creating calls' answers, for the cleanup."""

    entities: dict[str, str] = field(default_factory=dict)  # id -> entity type, in order made
    tenants: list[str] = field(default_factory=list)

    def note(self, response: httpx.Response) -> None:
        """An httpx response hook: a POST of a new entity (its body has no id) answered with it."""
        request = response.request
        if request.method != "POST" or response.status_code != 200:
            return
        if "json" not in request.headers.get("content-type", ""):
            return
        sent = json.loads(request.content or b"null")
        if not isinstance(sent, dict) or sent.get("id"):
            return
        response.read()
        try:
            answer = response.json()
        except ValueError:
            return
        found = answer.get("id") if isinstance(answer, dict) else None
        if isinstance(found, dict) and found.get("entityType") in DELETE_PATHS:
            self.entities.setdefault(str(found["id"]), str(found["entityType"]))

    def clean_up(self, http: httpx.Client, sysadmin: tuple[str, str] | None, url: str) -> str:
        """Deletes it all (the tenants with the system administrator); says what went, and what
        could not."""
        removed: dict[str, int] = {}
        left = dict(self.entities)
        for _ in range(CLEANUP_PASSES):
            for entity_type in DELETE_PATHS:
                for entity_id in [i for i, t in left.items() if t == entity_type]:
                    status = http.delete(DELETE_PATHS[entity_type].format(entity_id)).status_code
                    if status in (200, 404):  # 404: a check deleted it already
                        del left[entity_id]
                        removed[entity_type] = removed.get(entity_type, 0) + (status == 200)
                    elif entity_type == "DEVICE_PROFILE":
                        _unassign_profile(http, entity_id)
            if not left:
                break
        tenants_left = list(self.tenants)
        if tenants_left and sysadmin is not None:
            with client(url, *sysadmin) as admin:
                for tenant_id in self.tenants:
                    if admin.delete(f"/api/tenant/{tenant_id}").status_code in (200, 404):
                        tenants_left.remove(tenant_id)
                        removed["TENANT"] = removed.get("TENANT", 0) + 1
        self.entities, self.tenants = left, tenants_left
        done = ", ".join(f"{count} {NAMES[kind]}" for kind, count in removed.items() if count)
        report = f"cleanup: deleted {done or 'nothing'}"
        if left or tenants_left:
            kept = ", ".join(f"{NAMES[t]} {i}" for i, t in left.items())
            kept += "".join(f", tenant {t}" for t in tenants_left)
            report += f"; could not delete {kept.lstrip(', ')}"
        return report


def _unassign_profile(http: httpx.Client, profile_id: str) -> None:
    """Breaks the cycle of a profile whose package is its own: the profile is refused while the
    package names it, the package while the profile uses it. The next pass deletes both."""
    profile = http.get(f"/api/deviceProfile/{profile_id}")
    if profile.status_code == 200:
        http.post(
            "/api/deviceProfile", json={**profile.json(), "firmwareId": None, "softwareId": None}
        )


@dataclass
class Target:
    url: str
    mqtt_host: str
    mqtt_port: int
    coap_host: str
    coap_port: int
    username: str
    password: str
    sysadmin: tuple[str, str] | None = None
    pack_size: int = 100
    pack_interval_ms: int = 60000
    mqtt_max_chunk: int = OTAKIT_MQTT_MAX_CHUNK
    notify_timeout: float = 120.0
    jwt_key: bytes | None = None  # what the target signs its tokens with, if given
    http: httpx.Client = field(init=False)
    created: Created = field(init=False, default_factory=Created)

    def __post_init__(self) -> None:
        self.http = client(self.url, self.username, self.password, [self.created.note])

    def clean_up(self) -> str:
        """Deletes what the checks created through this target; says what it did."""
        return self.created.clean_up(self.http, self.sysadmin, self.url)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, expect: int | None = 200, **kwargs: Any) -> Any:
        return call(self.http, method, path, expect, **kwargs)

    @property
    def pace_is_checkable(self) -> bool:
        """Whether the pace is fast enough to watch: at most 20 devices per at most 5 s."""
        return self.pack_size <= 20 and self.pack_interval_ms <= 5000

    def profile(self) -> str:
        name = f"conformance-{uuid.uuid4().hex[:8]}"
        created = self.call("POST", "/api/deviceProfile", json=profile_body(name))
        return str(created["id"]["id"])

    def package_info(
        self,
        profile_id: str,
        kind: Kind = FIRMWARE,
        title: str | None = None,
        version: str = "1.0",
        **fields: Any,
    ) -> Entity:
        """A package without data yet (or with a `url=...`)."""
        return self.call(  # type: ignore[no-any-return]
            "POST",
            "/api/otaPackage",
            json={
                "title": title or f"conf-{uuid.uuid4().hex[:8]}",
                "version": version,
                "type": kind.type,
                "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": profile_id},
                **fields,
            },
        )

    def upload(
        self,
        info: Entity,
        data: bytes,
        algorithm: str = "SHA256",
        checksum: str | None = None,
        expect: int | None = 200,
    ) -> httpx.Response:
        params = {"checksumAlgorithm": algorithm}
        if checksum is not None:
            params["checksum"] = checksum
        response = self.http.post(
            f"/api/otaPackage/{info['id']['id']}",
            params=params,
            files={"file": ("image.bin", data, "application/octet-stream")},
        )
        if expect is not None:
            assert response.status_code == expect, (
                f"upload: expected {expect}, got {response.status_code}: {response.text[:300]}"
            )
        return response

    def package(
        self,
        profile_id: str,
        data: bytes,
        kind: Kind = FIRMWARE,
        algorithm: str = "SHA256",
        title: str | None = None,
        version: str = "1.0",
        **fields: Any,
    ) -> Entity:
        """A package with data, ready to assign."""
        info = self.package_info(profile_id, kind, title, version, **fields)
        return self.upload(info, data, algorithm).json()  # type: ignore[no-any-return]

    def url_package(self, profile_id: str, kind: Kind = FIRMWARE, **fields: Any) -> Entity:
        """A package the device fetches from its URL, not from the server."""
        url = f"https://example.com/{uuid.uuid4().hex}.bin"
        return self.package_info(profile_id, kind, usesUrl=True, url=url, **fields)

    def device(self, profile_id: str, **fields: Any) -> tuple[Entity, str]:
        """A new device and its access token; `firmwareId=package["id"]` assigns at creation."""
        token = "conf-" + uuid.uuid4().hex
        device = self.call(
            "POST",
            "/api/device",
            params={"accessToken": token},
            json={
                "name": f"conf-device-{uuid.uuid4().hex[:8]}",
                "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": profile_id},
                **fields,
            },
        )
        return device, token

    def save_device(self, device: Entity, **changes: Any) -> Entity:
        """Saves the device as it is now on the server, with `changes`, as the UI does."""
        current = self.call("GET", f"/api/device/{device['id']['id']}")
        return self.call("POST", "/api/device", json={**current, **changes})  # type: ignore[no-any-return]

    def assign(self, device: Entity, package: Entity | None, kind: Kind | None = None) -> Entity:
        """Assigns the package to the device, or with None unassigns its `kind` (firmware)."""
        kind = kind or (kind_of(package) if package else FIRMWARE)
        return self.save_device(device, **{kind.field: package["id"] if package else None})

    def assign_profile(
        self, profile_id: str, package: Entity | None, kind: Kind | None = None
    ) -> httpx.Response:
        kind = kind or (kind_of(package) if package else FIRMWARE)
        profile = self.call("GET", f"/api/deviceProfile/{profile_id}")
        profile[kind.field] = package["id"] if package else None
        return self.http.post("/api/deviceProfile", json=profile)

    def telemetry(self, device_id: str, key: str) -> list[tuple[int, Any]]:
        """Every point of a time series, oldest first."""
        found = self.call(
            "GET",
            f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries",
            params={
                "keys": key,
                "startTs": 0,
                "endTs": 4_000_000_000_000,
                "limit": 10000,
                "orderBy": "ASC",
            },
        )
        return [(point["ts"], point["value"]) for point in (found or {}).get(key, [])]

    def states(self, device_id: str, kind: Kind = FIRMWARE) -> list[str]:
        return [value for _, value in self.telemetry(device_id, kind.state)]

    def shared(self, device_id: str) -> dict[str, Any]:
        found = self.call(
            "GET", f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes/SHARED_SCOPE"
        )
        return {item["key"]: item["value"] for item in found or []}

    def wait(self, condition: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        wait_until(condition, what, timeout or self.notify_timeout, interval=0.1)

    def notified(self, device_id: str, package: Entity) -> None:
        """Waits until the queue has announced `package` to the device (INITIATED)."""
        title = kind_of(package).key("title")
        self.wait(
            lambda: self.shared(device_id).get(title) == package["title"],
            f"the queue to notify {device_id} of {package['title']}",
        )

    def drained(self, device_ids: list[str], kind: Kind = FIRMWARE) -> None:
        """Waits until the queue has handled the devices' records, and one interval more."""
        self.wait(
            lambda: all("INITIATED" in self.states(d, kind) for d in device_ids),
            f"the queue to notify {len(device_ids)} devices",
        )
        time.sleep(self.pack_interval_ms / 1000 + 0.5)

    def new_tenant_admin(self, prefix: str = "conf") -> tuple[str, str]:
        """A new tenant with its administrator (email, password); needs the system administrator."""
        assert self.sysadmin is not None, "a new tenant needs the system administrator's account"
        return new_tenant_admin(self.url, self.sysadmin, prefix, self.created.tenants.append)
