"""A stateful model of assignment (spec §4.1, §4.5, §6.3), checked against the server.

Hypothesis drives assign, unassign and reassign on devices and their profile, reports and
downloads; after each step the server must agree with the model about every device's effective
package, as its HTTP download shows it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from otaconformance.devices import HttpDevice
from otaconformance.target import Target
from otaconformance.target import rule as contract

DEVICES, PACKAGES = 3, 3


def make_machine(target: Target) -> type[RuleBasedStateMachine]:
    profile = target.profile()
    packages = [target.package(profile, f"image {i} ".encode() * 20) for i in range(PACKAGES)]
    devices = [target.device(profile) for _ in range(DEVICES)]

    class Assignments(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.own: list[int | None] = [None] * DEVICES
            self.profile_package: int | None = None
            for device, _ in devices:
                target.assign(device, None)
            target.assign_profile(profile, None)

        @rule(device=st.integers(0, DEVICES - 1), package=st.integers(0, PACKAGES - 1))
        def assign_device(self, device: int, package: int) -> None:
            target.assign(devices[device][0], packages[package])
            self.own[device] = package

        @rule(device=st.integers(0, DEVICES - 1))
        def unassign_device(self, device: int) -> None:
            target.assign(devices[device][0], None)
            self.own[device] = None

        @rule(package=st.integers(0, PACKAGES - 1))
        def assign_profile(self, package: int) -> None:
            target.assign_profile(profile, packages[package])
            self.profile_package = package

        @rule()
        def unassign_profile(self) -> None:
            target.assign_profile(profile, None)
            self.profile_package = None

        @rule(
            device=st.integers(0, DEVICES - 1),
            state=st.sampled_from(["DOWNLOADING", "FAILED", "UPDATED", "IDLE"]),
        )
        def report(self, device: int, state: str) -> None:
            http = HttpDevice(target.url, devices[device][1])
            try:
                assert http.post("telemetry", {"fw_state": state}).status_code == 200
            finally:
                http.close()

        @invariant()
        def downloads_follow_the_model(self) -> None:
            for index, (_, token) in enumerate(devices):
                expected = self.own[index] if self.own[index] is not None else self.profile_package
                http = HttpDevice(target.url, token)
                try:
                    check(http, expected, packages)
                finally:
                    http.close()

    return Assignments


def check(http: HttpDevice, expected: int | None, packages: list[dict[str, Any]]) -> None:
    for index, package in enumerate(packages):
        response = http.get("firmware", title=package["title"], version=package["version"])
        if index == expected:
            assert response.status_code == 200, contract(
                "§4.1", f"the effective package (device's own, else profile's) is {index}"
            )
            assert response.content == f"image {index} ".encode() * 20
        else:
            assert response.status_code in (400, 404), contract(
                "§4.1/§6.3", f"package {index} is not the effective one, yet it was served"
            )


def test_assignment_model(target: Target) -> None:
    machine = make_machine(target)
    machine.TestCase.settings = settings(
        max_examples=6,
        stateful_step_count=8,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()
