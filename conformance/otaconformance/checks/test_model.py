"""A stateful model of assignment and reporting (spec §2.2, §3, §4.1 to §4.4, §6), checked
against the server, for firmware and software at once.

Hypothesis assigns, unassigns and reassigns packages of either type on devices and on their
profile, has devices report states and download over MQTT; the model keeps each device's own
package and the profile's, per type. After every step the server must agree with the model:

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

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from otaclient import protocol as wire

from otaconformance.assigning import series
from otaconformance.devices import ChunkRefused, HttpDevice, MqttDevice
from otaconformance.rules import KIND_TYPES, Transport
from otaconformance.target import KINDS, Entity, Kind, Target
from otaconformance.target import rule as contract

DEVICES, PACKAGES = 3, 3
STATES = ["DOWNLOADING", "FAILED", "UPDATED", "IDLE"]
PACKAGE_OR_NONE = st.none() | st.integers(0, PACKAGES - 1)
KIND_INDEX = st.integers(0, len(KINDS) - 1)
# What the invariant reads of each device, in one call.
KEYS = [key for kind in KINDS for key in (kind.state, f"target_{kind.key('title')}")]


def image(kind: Kind, index: int) -> bytes:
    return f"{kind.prefix} image {index} ".encode() * 20


def effective_rule(own: int | None) -> str:
    """The rule that decides the effective package: the device's own, else the profile's."""
    return "assignment.own-wins" if own is not None else "assignment.profile-fallback"


def make_machine(target: Target, https: list[HttpDevice]) -> type[RuleBasedStateMachine]:
    profile = target.profile()
    packages = [
        [target.package(profile, image(k, i), kind=k) for i in range(PACKAGES)] for k in KINDS
    ]
    devices = [target.device(profile) for _ in range(DEVICES)]
    ids = [device["id"]["id"] for device, _ in devices]
    https.extend(HttpDevice(target.url, token) for _, token in devices)
    request_ids = iter(range(1, 1_000_000))

    class Assignments(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            cleared = {kind.field: None for kind in KINDS}
            for device, _ in devices:
                target.save_device(device, **cleared)
            saved = target.call("GET", f"/api/deviceProfile/{profile}")
            target.call("POST", "/api/deviceProfile", json={**saved, **cleared})
            # Per type (index into KINDS), then per device.
            self.own: list[list[int | None]] = [[None] * DEVICES for _ in KINDS]
            self.profile_package: list[int | None] = [None for _ in KINDS]
            # What the server holds already counts as the start.
            found = [series(target, i, KEYS) for i in ids]
            self.queued = [[f[k.state].count("QUEUED") for f in found] for k in KINDS]
            self.reported = [
                [Counter(s for s in f[k.state] if s in STATES) for f in found] for k in KINDS
            ]
            self.target_title = [
                [last(f[f"target_{k.key('title')}"]) for f in found] for k in KINDS
            ]
            self.sent = 0  # records this example queued
            self.touched = 0  # the type of the last step (an index into KINDS)

        def effective(self, kind: int, device: int) -> int | None:
            own = self.own[kind][device]
            return own if own is not None else self.profile_package[kind]

        def change(self, kind: int, apply: Callable[[], object]) -> None:
            """Applies a change of assignment to the model, with the QUEUED it must cause."""
            before = [self.effective(kind, d) for d in range(DEVICES)]
            apply()
            for device in range(DEVICES):
                after = self.effective(kind, device)
                if after is not None and after != before[device]:
                    self.sent += 1
                    self.queued[kind][device] += 1
                    self.target_title[kind][device] = packages[kind][after]["title"]

        @rule(device=st.integers(0, DEVICES - 1), kind=KIND_INDEX, package=PACKAGE_OR_NONE)
        def assign_device(self, device: int, kind: int, package: int | None) -> None:
            """Assigns, reassigns or (with None) unassigns the device's own package."""
            self.touched = kind
            chosen = None if package is None else packages[kind][package]
            target.assign(devices[device][0], chosen, KINDS[kind])
            self.change(kind, lambda: self.own[kind].__setitem__(device, package))

        @rule(kind=KIND_INDEX, package=PACKAGE_OR_NONE)
        def assign_profile(self, kind: int, package: int | None) -> None:
            """Assigns, reassigns or (with None) unassigns the profile's package."""
            self.touched = kind
            chosen = None if package is None else packages[kind][package]
            assert target.assign_profile(profile, chosen, KINDS[kind]).status_code == 200
            self.change(kind, lambda: self.profile_package.__setitem__(kind, package))

        @rule(device=st.integers(0, DEVICES - 1), kind=KIND_INDEX, state=st.sampled_from(STATES))
        def report(self, device: int, kind: int, state: str) -> None:
            self.touched = kind
            assert https[device].post("telemetry", {KINDS[kind].state: state}).status_code == 200
            self.reported[kind][device][state] += 1

        @rule(device=st.integers(0, DEVICES - 1), kind=KIND_INDEX)
        def download_over_mqtt(self, device: int, kind: int) -> None:
            self.touched = kind
            expected = self.effective(kind, device)
            with MqttDevice(target.mqtt_host, target.mqtt_port, devices[device][1]) as mqtt:
                mqtt.subscribe(wire.OTA_ERROR_TOPIC)  # software's errors come there too (§6.2)
                try:
                    got: bytes | str | None = mqtt.chunk(
                        next(request_ids), 0, 0, KINDS[kind].prefix
                    )
                except ChunkRefused as refused:
                    got = refused.text
            wanted = "NOT_FOUND" if expected is None else image(KINDS[kind], expected)
            assert got == wanted, contract(
                effective_rule(self.own[kind][device]),
                f"over MQTT device {device} gets its effective {KINDS[kind].type} "
                + ("(none: NOT_FOUND)" if expected is None else f"{expected}")
                + f", got {got!r:.60}",
            )

        @invariant()
        def the_server_agrees(self) -> None:
            for device, device_id in enumerate(ids):
                found = series(target, device_id, KEYS)
                for kind_index in range(len(KINDS)):
                    self.agrees(kind_index, device, found)
                # Served: the type the step changed (both after the example, in teardown).
                self.served(self.touched, device)

        def agrees(self, kind_index: int, device: int, found: dict[str, list[Any]]) -> None:
            kind = KINDS[kind_index]
            states = found[kind.state]
            wanted = self.queued[kind_index][device]
            got = states.count("QUEUED")
            assert got == wanted, contract(
                "queue.unchanged-not-queued" if got > wanted else "queue.on-change",
                f"QUEUED exactly when the effective {kind.type} changes to another one: "
                f"device {device} has {got}, the model {wanted}",
            )
            for state, count in self.reported[kind_index][device].items():
                assert states.count(state) == count, contract(
                    "state.reported-kept", f"{state} of device {device} ({kind.state})"
                )
            titles = found[f"target_{kind.key('title')}"]
            assert last(titles) == self.target_title[kind_index][device], contract(
                "queue.queued-telemetry",
                f"target_{kind.key('title')} follows the newest queued package of device {device}",
            )

        def served(self, kind_index: int, device: int) -> None:
            check_served(
                https[device],
                KINDS[kind_index],
                self.effective(kind_index, device),
                self.own[kind_index][device],
                packages[kind_index],
            )

        def teardown(self) -> None:
            for kind_index in range(len(KINDS)):
                for device in range(DEVICES):
                    self.served(kind_index, device)
            if not target.pace_is_checkable:
                return  # the queue would take too long to catch up after every example
            # A pack interval per pack queued here, one for a full window, and slack for a
            # loaded machine (waiting ends as soon as the attributes are there).
            packs = self.sent / target.pack_size + 1
            catch_up = packs * target.pack_interval_ms / 1000 + 20
            for kind_index, kind in enumerate(KINDS):
                for device, device_id in enumerate(ids):
                    expected = self.effective(kind_index, device)
                    title = None if expected is None else packages[kind_index][expected]["title"]
                    target.wait(
                        announces(device_id, kind, title),
                        contract(
                            "queue.removed-when-none"
                            if expected is None
                            else "queue.attributes-announced",
                            f"once the queue catches up, device {device}'s attributes announce "
                            + ("nothing" if expected is None else f"{kind.type} {expected}"),
                        ),
                        catch_up,
                    )

    def announces(device_id: str, kind: Kind, title: str | None) -> Callable[[], bool]:
        return lambda: target.shared(device_id).get(kind.key("title")) == title

    return Assignments


def last(values: list[Any]) -> Any:
    return values[-1] if values else None


def check_served(
    http: HttpDevice, kind: Kind, expected: int | None, own: int | None, packages: list[Entity]
) -> None:
    for index, package in enumerate(packages):
        response = http.get(kind.path, title=package["title"], version=package["version"])
        if index == expected:
            assert response.status_code == 200 and response.content == image(kind, index), contract(
                effective_rule(own),
                f"the effective {kind.type} (device's own, else profile's) is {index}",
            )
        else:
            assert response.status_code in (400, 404), contract(
                effective_rule(own),
                f"{kind.type} {index} is not the effective one, yet it was served",
            )


@pytest.mark.rules(
    "assignment.own-wins",
    "assignment.profile-fallback",
    "queue.on-change",
    "queue.unchanged-not-queued",
    "queue.queued-telemetry",
    "queue.attributes-announced",
    "queue.removed-when-none",
    "state.reported-kept",
    kinds=KIND_TYPES,
    transports=(Transport.HTTP, Transport.MQTT5),
)
def test_assignment_model(target: Target) -> None:
    https: list[HttpDevice] = []
    machine = make_machine(target, https)
    machine.TestCase.settings = settings(
        max_examples=8,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        machine.TestCase().runTest()
    finally:
        for http in https:
            http.__exit__()
