"""The server under test, as a tenant administrator reaches it: REST calls and entity helpers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from otaclient import protocol as wire

Entity = dict[str, Any]


def rule(section: str, text: str) -> str:
    """The message of a failed check: which rule of the wire contract broke."""
    return f"[rule {section}] {text}"


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
    mqtt_max_chunk: int = 65536
    notify_timeout: float = 120.0
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = client(self.url, self.username, self.password)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, expect: int | None = 200, **kwargs: Any) -> Any:
        return call(self.http, method, path, expect, **kwargs)

    @property
    def pace_is_checkable(self) -> bool:
        """Whether the pace is fast enough to watch: at most 20 devices per at most 5 s."""
        return self.pack_size <= 20 and self.pack_interval_ms <= 5000

    def profile(self) -> str:
        created = self.call(
            "POST",
            "/api/deviceProfile",
            json={
                "name": f"conformance-{uuid.uuid4().hex[:8]}",
                "type": "DEFAULT",
                "transportType": "DEFAULT",
                "provisionType": "DISABLED",
                "profileData": {
                    "configuration": {"type": "DEFAULT"},
                    "transportConfiguration": {"type": "DEFAULT"},
                    "provisionConfiguration": {"type": "DISABLED"},
                },
            },
        )
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
        deadline = time.monotonic() + (timeout or self.notify_timeout)
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)

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
        return new_tenant_admin(self.url, self.sysadmin, prefix)


def client(url: str, username: str, password: str) -> httpx.Client:
    """An HTTP client logged in to the REST API."""
    http = httpx.Client(base_url=url, timeout=60)
    http.headers["X-Authorization"] = "Bearer " + login(url, username, password)
    return http


def call(
    http: httpx.Client, method: str, path: str, expect: int | None = 200, **kwargs: Any
) -> Any:
    """A REST call that must answer `expect`; its JSON (or bytes, or None when empty)."""
    response = http.request(method, path, **kwargs)
    if expect is not None:
        assert response.status_code == expect, (
            f"{method} {path}: expected {expect}, got {response.status_code}: {response.text[:300]}"
        )
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.content


def login(url: str, username: str, password: str) -> str:
    response = httpx.post(
        url + "/api/auth/login", json={"username": username, "password": password}, timeout=30
    )
    assert response.status_code == 200, f"login as {username} failed: {response.text[:200]}"
    return str(response.json()["token"])


def new_tenant_admin(url: str, sysadmin: tuple[str, str], prefix: str) -> tuple[str, str]:
    """A new tenant and its administrator, activated through ThingsBoard's activation link."""
    password = f"{prefix}-{uuid.uuid4().hex[:12]}"
    with client(url, *sysadmin) as http:
        tenant = call(http, "POST", "/api/tenant", json={"title": f"{prefix}-{uuid.uuid4().hex}"})
        email = f"{prefix}-{uuid.uuid4().hex[:8]}@conformance.test"
        user = call(
            http,
            "POST",
            "/api/user",
            params={"sendActivationMail": "false"},
            json={"email": email, "authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
        )
        link = http.get(f"/api/user/{user['id']['id']}/activationLink").text
        call(
            http,
            "POST",
            "/api/noauth/activate",
            json={"activateToken": link.split("activateToken=", 1)[1], "password": password},
        )
    return email, password
