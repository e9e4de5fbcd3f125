"""A thin REST client for tests: real HTTP, and every error checked for the one error shape."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import httpx

from otatarget import rest

ERROR_KEYS = {"status", "message", "errorCode", "timestamp"}


def assert_error(response: httpx.Response, status: int, contains: str = "") -> dict[str, Any]:
    """The response is the JSON error shape with this status (and message fragment)."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == status
    assert isinstance(body["errorCode"], int)
    assert isinstance(body["timestamp"], int) and abs(body["timestamp"] / 1000 - time.time()) < 600
    assert contains in body["message"], body["message"]
    return body  # type: ignore[no-any-return]


def entity_id(entity_type: str, uuid: str) -> dict[str, str]:
    return {"entityType": entity_type, "id": uuid}


class Api:
    """An httpx client bound to a server, logged in as one user."""

    # Every client made, so the fixtures can close them (tests run with warnings as errors).
    opened: ClassVar[list[Api]] = []

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=rest.TIMEOUT)
        Api.opened.append(self)
        self.token = token
        if token:
            self.http.headers["X-Authorization"] = f"Bearer {token}"

    @classmethod
    def close_since(cls, count: int) -> None:
        """Closes the clients made after the first `count`."""
        for api in cls.opened[count:]:
            api.http.close()
        del cls.opened[count:]

    @classmethod
    def login(cls, url: str, username: str, password: str) -> Api:
        return cls(url, rest.login(url, username, password))

    def request(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if expect >= 400:
            assert_error(response, expect)
        else:
            assert response.status_code == expect, (
                method,
                path,
                response.status_code,
                response.text,
            )
        return response

    def get(self, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.request("GET", path, expect, **kwargs)
        return response.json() if response.content else None

    def post(self, path: str, json: Any = None, expect: int = 200, **kwargs: Any) -> Any:
        response = self.request("POST", path, expect, json=json, **kwargs)
        return response.json() if response.content else None

    def delete(self, path: str, expect: int = 200) -> httpx.Response:
        return self.request("DELETE", path, expect)

    # Shortcuts for the entities most tests need.
    def create_package(
        self,
        profile_id: str,
        title: str,
        version: str,
        package_type: str = "FIRMWARE",
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "title": title,
            "version": version,
            "type": package_type,
            "deviceProfileId": entity_id("DEVICE_PROFILE", profile_id),
            **extra,
        }
        return self.post("/api/otaPackage", body)  # type: ignore[no-any-return]

    def upload(
        self,
        package_id: str,
        data: bytes,
        algorithm: str | None = "SHA256",
        checksum: str | None = None,
        file_name: str = "fw.bin",
        expect: int = 200,
    ) -> Any:
        params = {
            k: v
            for k, v in (("checksumAlgorithm", algorithm), ("checksum", checksum))
            if v is not None
        }
        response = self.request(
            "POST",
            f"/api/otaPackage/{package_id}",
            expect,
            params=params,
            files={"file": (file_name, data, "application/octet-stream")},
        )
        return response.json()

    def create_device(
        self, name: str, profile_id: str | None = None, token: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, **extra}
        if profile_id:
            body["deviceProfileId"] = entity_id("DEVICE_PROFILE", profile_id)
        params = {"accessToken": token} if token else {}
        return self.post("/api/device", body, params=params)  # type: ignore[no-any-return]

    def create_profile(self, name: str) -> dict[str, Any]:
        return self.post("/api/deviceProfile", {"name": name})  # type: ignore[no-any-return]
