"""The operator: a tenant administrator on the REST API, alongside the devices.

It logs in, uploads the package, and assigns it as the scenario says (to the profile, or to a
share of the devices in the steady fleet) and reads the dashboard; then, while the devices work,
it does what an operator watching a rollout does: lists packages and devices and reads the
dashboard again. Its calls are Locust's HTTP rows, named by path.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

import gevent
from locust import FastHttpUser, between, tag, task

from otaload.metrics import now_ms
from otaload.options import CAMPAIGN, STEADY, STORM, WAVES
from otaload.run import ASSIGNED, RUN, WAIT_S, broadcast
from otaload.run import STORM as STORM_MESSAGE

PACKAGE_FIELDS = {"FIRMWARE": "firmwareId", "SOFTWARE": "softwareId"}
ALL = (STEADY, CAMPAIGN, STORM, WAVES)


def package_bytes(size: int, seed: int = 7) -> bytes:
    """The package's content: random, so no transport compresses it, and the same each run."""
    return random.Random(seed).randbytes(size)


class Operator(FastHttpUser):
    """One operator per run (fixed_count), whatever the number of devices."""

    fixed_count = 1
    wait_time = between(1.0, 2.0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.options = options
        answer = self._call(
            "POST",
            "/api/auth/login",
            json={"username": options.username, "password": options.password},
        )
        self.headers = {"X-Authorization": "Bearer " + answer["token"]}
        if not RUN.fleet_ready.wait(WAIT_S) or RUN.fleet is None:
            raise RuntimeError("no fleet arrived from the master")
        self.fleet = RUN.fleet
        self.package = self._upload()
        scenario = scenario_of(options)
        if scenario != WAVES and not RUN.go.wait(WAIT_S):
            raise RuntimeError("the devices were not all spawned in time")
        if scenario == STEADY:
            self._assign_to_devices()
        else:
            self._assign_to_profile()
        if scenario == STORM:
            gevent.spawn_later(
                options.storm_after_s, broadcast, self.environment.runner, STORM_MESSAGE
            )
        # The rollout's dashboard first, as its operator looks; the tasks below pick at random.
        self.dashboard()

    def _call(self, method: str, path: str, name: str | None = None, **kw: Any) -> Any:
        headers = getattr(self, "headers", {})
        with self.client.request(
            method, path, name=name or path, headers=headers, catch_response=True, **kw
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {(response.text or '')[:200]}")
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
            return response.json() if response.content else None

    def _upload(self) -> dict[str, Any]:
        options = self.options
        data = package_bytes(options.package_size)
        version = "load-" + hashlib.sha256(str(now_ms()).encode()).hexdigest()[:8]
        info = self._call(
            "POST",
            "/api/otaPackage",
            json={
                "title": "otaload",
                "version": version,
                "type": options.package_type,
                "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": self.fleet.profile_id},
            },
        )
        package: dict[str, Any] = self._call(
            "POST",
            f"/api/otaPackage/{info['id']['id']}",
            name="/api/otaPackage/[id] (upload)",
            params={"checksumAlgorithm": options.checksum_algorithm},
            files={"file": ("otaload.bin", data, "application/octet-stream")},
        )
        return package

    def _assign_to_profile(self) -> None:
        path = f"/api/deviceProfile/{self.fleet.profile_id}"
        profile = self._call("GET", path, name="/api/deviceProfile/[id]")
        profile[PACKAGE_FIELDS[self.options.package_type]] = self.package["id"]
        at = now_ms()
        self._call("POST", "/api/deviceProfile", json=profile)
        broadcast(
            self.environment.runner, ASSIGNED, {"at": at, "expected": len(self.fleet.devices)}
        )

    def _assign_to_devices(self) -> None:
        """The steady fleet: the package for the first share of the devices, each its own."""
        devices = self.fleet.devices
        count = math.ceil(len(devices) * self.options.updating_fraction)
        # Evenly spread over the fleet, so every transport's users get some.
        share = [devices[i * len(devices) // count] for i in range(count)]
        at = now_ms()
        for device_id, _token in share:
            device = self._call("GET", f"/api/device/{device_id}", name="/api/device/[id]")
            device[PACKAGE_FIELDS[self.options.package_type]] = self.package["id"]
            self._call("POST", "/api/device", json=device)
        broadcast(self.environment.runner, ASSIGNED, {"at": at, "expected": len(share)})

    @tag(*ALL)
    @task(3)
    def dashboard(self) -> None:
        self._call("GET", "/api/ota/dashboard/counts")
        self._call("GET", "/api/ota/dashboard/devices", params={"pageSize": 20, "page": 0})

    @tag(*ALL)
    @task
    def packages(self) -> None:
        self._call("GET", "/api/otaPackages", params={"pageSize": 20, "page": 0})

    @tag(*ALL)
    @task
    def devices(self) -> None:
        self._call("GET", "/api/tenant/deviceInfos", params={"pageSize": 20, "page": 0})


def scenario_of(options: Any) -> str:
    """The one scenario the run's --tags name."""
    chosen = [t for t in (options.tags or []) if t in ALL]
    if len(chosen) != 1:
        raise ValueError(f"--tags must name one scenario of {', '.join(ALL)}, not {options.tags}")
    return str(chosen[0])
