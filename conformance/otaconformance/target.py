"""The server under test, as a tenant administrator reaches it: REST calls and entity helpers."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx


def rule(section: str, text: str) -> str:
    """The message of a failed check: which rule of the wire contract broke."""
    return f"[rule {section}] {text}"


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
        self.http = httpx.Client(base_url=self.url, timeout=60)
        self.http.headers["X-Authorization"] = "Bearer " + login(
            self.url, self.username, self.password
        )

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, expect: int | None = 200, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if expect is not None:
            assert response.status_code == expect, (
                f"{method} {path}: expected {expect}, got {response.status_code}: "
                f"{response.text[:300]}"
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.content

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

    def package(
        self,
        profile_id: str,
        data: bytes | None,
        kind: str = "FIRMWARE",
        algorithm: str = "SHA256",
        title: str | None = None,
        version: str = "1.0",
    ) -> dict[str, Any]:
        info = self.call(
            "POST",
            "/api/otaPackage",
            json={
                "title": title or f"conf-{uuid.uuid4().hex[:8]}",
                "version": version,
                "type": kind,
                "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": profile_id},
            },
        )
        if data is None:
            return info  # type: ignore[no-any-return]
        return self.call(  # type: ignore[no-any-return]
            "POST",
            f"/api/otaPackage/{info['id']['id']}",
            params={"checksumAlgorithm": algorithm},
            files={"file": ("image.bin", data, "application/octet-stream")},
        )

    def device(self, profile_id: str, **fields: Any) -> tuple[dict[str, Any], str]:
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

    def assign(
        self, device: dict[str, Any], package: dict[str, Any] | None, field_name: str = "firmwareId"
    ) -> dict[str, Any]:
        current = self.call("GET", f"/api/device/{device['id']['id']}")
        current[field_name] = package["id"] if package else None
        return self.call("POST", "/api/device", json=current)  # type: ignore[no-any-return]

    def assign_profile(self, profile_id: str, package: dict[str, Any] | None) -> None:
        profile = self.call("GET", f"/api/deviceProfile/{profile_id}")
        profile["firmwareId"] = package["id"] if package else None
        self.call("POST", "/api/deviceProfile", json=profile)

    def telemetry(self, device_id: str, key: str) -> list[tuple[int, Any]]:
        found = self.call(
            "GET",
            f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries",
            params={
                "keys": key,
                "startTs": 0,
                "endTs": 4_000_000_000_000,
                "limit": 1000,
                "orderBy": "ASC",
            },
        )
        return [(point["ts"], point["value"]) for point in (found or {}).get(key, [])]

    def shared(self, device_id: str) -> dict[str, Any]:
        found = self.call(
            "GET", f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes/SHARED_SCOPE"
        )
        return {item["key"]: item["value"] for item in found or []}

    def wait(self, condition: Any, what: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.notify_timeout)
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)

    def notified(self, device_id: str, package: dict[str, Any], prefix: str = "fw") -> None:
        """Waits until the queue has announced `package` to the device (INITIATED)."""
        self.wait(
            lambda: self.shared(device_id).get(f"{prefix}_title") == package["title"],
            f"the queue to notify {device_id}",
        )


def login(url: str, username: str, password: str) -> str:
    response = httpx.post(
        url + "/api/auth/login", json={"username": username, "password": password}, timeout=30
    )
    assert response.status_code == 200, f"login as {username} failed: {response.text[:200]}"
    return str(response.json()["token"])
