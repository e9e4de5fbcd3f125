"""A stateful model of assignment and reporting (spec §2.2, §3, §4.1 to §4.4, §6), checked
against the server.

Hypothesis assigns, unassigns and reassigns packages on devices and on their profile, has devices
report states and download over MQTT; the model keeps each device's own package and the profile's.
After every step the server must agree with the model:

- the effective package (the device's own, else the profile's) is the one HTTP serves;
- QUEUED (and target_fw_title) is written exactly when a device's effective package changes to
  another package, never for an unchanged one or an unassignment;
- every reported state is kept;
- and once the queue has caught up, the shared attributes announce the effective package, or
  nothing after an unassignment (checked where the pace is fast enough to wait for).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from otaclient import protocol as wire

from otaconformance.devices import ChunkRefused, HttpDevice, MqttDevice
from otaconformance.target import Entity, Target
from otaconformance.target import rule as contract

DEVICES, PACKAGES = 3, 3
STATES = ["DOWNLOADING", "FAILED", "UPDATED", "IDLE"]
PACKAGE_OR_NONE = st.none() | st.integers(0, PACKAGES - 1)


def image(index: int) -> bytes:
    return f"image {index} ".encode() * 20


def make_machine(target: Target) -> type[RuleBasedStateMachine]:
    profile = target.profile()
    packages = [target.package(profile, image(i)) for i in range(PACKAGES)]
    devices = [target.device(profile) for _ in range(DEVICES)]
    ids = [device["id"]["id"] for device, _ in devices]
    request_ids = iter(range(1, 1_000_000))

    class Assignments(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            for device, _ in devices:
                target.assign(device, None)
            target.assign_profile(profile, None)
            self.own: list[int | None] = [None] * DEVICES
            self.profile_package: int | None = None
            # What the server holds already counts as the start.
            self.queued = [target.states(i).count("QUEUED") for i in ids]
            self.reported = [Counter(s for s in target.states(i) if s in STATES) for i in ids]
            self.target_title = [last(target.telemetry(i, "target_fw_title")) for i in ids]
            self.sent = 0  # records this example queued

        def effective(self, device: int) -> int | None:
            own = self.own[device]
            return own if own is not None else self.profile_package

        def change(self, apply: Callable[[], object]) -> None:
            """Applies a change of assignment to the model, with the QUEUED it must cause."""
            before = [self.effective(d) for d in range(DEVICES)]
            apply()
            for device in range(DEVICES):
                after = self.effective(device)
                if after is not None and after != before[device]:
                    self.sent += 1
                    self.queued[device] += 1
                    self.target_title[device] = packages[after]["title"]

        @rule(device=st.integers(0, DEVICES - 1), package=PACKAGE_OR_NONE)
        def assign_device(self, device: int, package: int | None) -> None:
            """Assigns, reassigns or (with None) unassigns the device's own package."""
            target.assign(devices[device][0], None if package is None else packages[package])
            self.change(lambda: self.own.__setitem__(device, package))

        @rule(package=PACKAGE_OR_NONE)
        def assign_profile(self, package: int | None) -> None:
            """Assigns, reassigns or (with None) unassigns the profile's package."""
            chosen = None if package is None else packages[package]
            assert target.assign_profile(profile, chosen).status_code == 200
            self.change(lambda: setattr(self, "profile_package", package))

        @rule(device=st.integers(0, DEVICES - 1), state=st.sampled_from(STATES))
        def report(self, device: int, state: str) -> None:
            with HttpDevice(target.url, devices[device][1]) as http:
                assert (
                    http.post("telemetry", {wire.state_key(wire.FIRMWARE): state}).status_code
                    == 200
                )
            self.reported[device][state] += 1

        @rule(device=st.integers(0, DEVICES - 1))
        def download_over_mqtt(self, device: int) -> None:
            expected = self.effective(device)
            with MqttDevice(target.mqtt_host, target.mqtt_port, devices[device][1]) as mqtt:
                mqtt.subscribe(wire.OTA_ERROR_TOPIC)
                try:
                    got: bytes | str | None = mqtt.chunk(next(request_ids), 0, 0)
                except ChunkRefused as refused:
                    got = refused.text
            wanted = "NOT_FOUND" if expected is None else image(expected)
            assert got == wanted, contract(
                "§4.1/§6.2",
                f"over MQTT device {device} gets its effective package "
                + ("(none: NOT_FOUND)" if expected is None else f"{expected}")
                + f", got {got!r:.60}",
            )

        @invariant()
        def the_server_agrees(self) -> None:
            for device, device_id in enumerate(ids):
                states = target.states(device_id)
                assert states.count("QUEUED") == self.queued[device], contract(
                    "§4.2",
                    f"QUEUED exactly when the effective package changes to another one: device "
                    f"{device} has {states.count('QUEUED')}, the model {self.queued[device]}",
                )
                for state, count in self.reported[device].items():
                    assert states.count(state) == count, contract(
                        "§3", f"every reported state is kept, once: {state} of device {device}"
                    )
                title = last(target.telemetry(device_id, "target_fw_title"))
                assert title == self.target_title[device], contract(
                    "§2.2", f"target_fw_title follows the newest queued package of device {device}"
                )
                with HttpDevice(target.url, devices[device][1]) as http:
                    check_served(http, self.effective(device), packages)

        def teardown(self) -> None:
            if not target.pace_is_checkable:
                return  # the queue would take too long to catch up after every example
            # A pack interval per pack queued here, one for a full window, and some slack.
            packs = self.sent / target.pack_size + 1
            catch_up = packs * target.pack_interval_ms / 1000 + 5
            for device, device_id in enumerate(ids):
                expected = self.effective(device)
                title = None if expected is None else packages[expected]["title"]
                target.wait(
                    announces(device_id, title),
                    contract(
                        "§4.4",
                        f"once the queue catches up, device {device}'s attributes announce "
                        + ("nothing" if expected is None else f"package {expected}"),
                    ),
                    catch_up,
                )

    def announces(device_id: str, title: str | None) -> Callable[[], bool]:
        return lambda: target.shared(device_id).get("fw_title") == title

    return Assignments


def last(points: list[tuple[int, Any]]) -> Any:
    return points[-1][1] if points else None


def check_served(http: HttpDevice, expected: int | None, packages: list[Entity]) -> None:
    for index, package in enumerate(packages):
        response = http.get("firmware", title=package["title"], version=package["version"])
        if index == expected:
            assert response.status_code == 200 and response.content == image(index), contract(
                "§4.1", f"the effective package (device's own, else profile's) is {index}"
            )
        else:
            assert response.status_code in (400, 404), contract(
                "§4.1/§6.3", f"package {index} is not the effective one, yet it was served"
            )


def test_assignment_model(target: Target) -> None:
    machine = make_machine(target)
    machine.TestCase.settings = settings(
        max_examples=8,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()
