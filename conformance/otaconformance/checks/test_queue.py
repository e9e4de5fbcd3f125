"""Spec §2.2, §3, §4.2 to §4.4: what queues a device, QUEUED and target_* at once, INITIATED and
the attributes by the queue, at its pace."""

from __future__ import annotations

import time

import pytest

from otaconformance.assigning import (
    DEVICE_STATES,
    announcement,
    kind_keys,
    queued,
    report_current,
    shared_with_ts,
    target_titles,
    timeseries_keys,
)
from otaconformance.devices import HttpDevice
from otaconformance.target import KINDS, Kind, Target, rule

kinds = pytest.mark.parametrize("kind", KINDS, ids=str)


def slow_pace(target: Target) -> None:
    if not target.pace_is_checkable:
        pytest.skip(
            f"a pack of {target.pack_size} per {target.pack_interval_ms} ms takes too long to "
            "watch here; run against a target with a small pace and give "
            "--pack-size/--pack-interval-ms"
        )


@pytest.mark.rules(
    "queue.queued-telemetry",
    "queue.target-tag",
    "queue.initiated-once",
    "queue.attributes-announced",
)
@kinds
def test_assignment_writes_queued_and_target_telemetry(
    target: Target, profile: str, kind: Kind
) -> None:
    package = target.package(profile, b"image" * 100, kind=kind, tag="release tag")
    untagged = target.package(profile, b"plain" * 100, kind=kind)
    device, _ = target.device(profile)
    plain, _ = target.device(profile)
    device_id, plain_id = device["id"]["id"], plain["id"]["id"]
    target.assign(device, package)
    target.assign(plain, untagged)
    queued_ts = {}
    for one, assigned in ((device_id, package), (plain_id, untagged)):
        found = queued(target, one, kind)
        assert len(found) == 1, rule(
            "queue.queued-telemetry", f"assignment writes {kind.state}=QUEUED at once"
        )
        queued_ts[one] = found[0]
        for suffix, value in (
            ("title", assigned["title"]),
            ("version", assigned["version"]),
            ("ts", found[0]),
        ):
            key = f"target_{kind.key(suffix)}"
            # The REST API gives time-series values as text, as ThingsBoard's does.
            assert target.telemetry(one, key) == [(found[0], str(value))], rule(
                "queue.queued-telemetry", f"assignment writes {key}={value!r} at the time of QUEUED"
            )
        key = f"target_{kind.key('tag')}"
        wanted = [(found[0], assigned["tag"])] if assigned.get("tag") else []
        assert target.telemetry(one, key) == wanted, rule(
            "queue.target-tag", f"{key} for the tag {assigned.get('tag')!r}: wanted {wanted}"
        )
    target.notified(device_id, package)
    target.notified(plain_id, untagged)
    for one in (device_id, plain_id):
        points = target.telemetry(one, kind.state)
        initiated = [ts for ts, value in points if value == "INITIATED"]
        assert len(initiated) == 1 and initiated[0] >= queued_ts[one], rule(
            "queue.initiated-once",
            f"the queue writes {kind.state}=INITIATED once, after QUEUED: {points}",
        )
    shared = target.shared(device_id)
    expected = {
        kind.key("title"): package["title"],
        kind.key("version"): package["version"],
        kind.key("tag"): package["tag"],
        kind.key("size"): package["dataSize"],
        kind.key("checksum"): package["checksum"],
        kind.key("checksum_algorithm"): package["checksumAlgorithm"],
    }
    assert shared == expected, rule(
        "queue.attributes-announced",
        f"the shared attributes announce the package, fw_size a JSON number: {shared}",
    )
    plain_shared = target.shared(plain_id)
    assert plain_shared == announcement(untagged, kind), rule(
        "queue.attributes-announced", f"a package without a tag, no tag key: {plain_shared}"
    )
    for one in (device_id, plain_id):
        stamps = {key: ts for key, (_, ts) in shared_with_ts(target, one).items()}
        assert set(stamps.values()) == {queued_ts[one]}, rule(
            "queue.attributes-announced",
            f"the attributes carry the assignment time {queued_ts[one]}: {stamps}",
        )


@pytest.mark.rules("queue.on-create")
@kinds
def test_creating_a_device_queues_it(target: Target, profile: str, kind: Kind) -> None:
    bare = target.profile()
    own = target.package(profile, b"own" * 10, kind=kind)
    profiles = target.package(profile, b"profile" * 10, kind=kind)
    assert target.assign_profile(profile, profiles).status_code == 200
    with_own, _ = target.device(profile, **{kind.field: own["id"]})
    follower, _ = target.device(profile)
    without, _ = target.device(bare)
    for device, package, what in (
        (with_own, own, "its own package"),
        (follower, profiles, "its profile's package"),
    ):
        device_id = device["id"]["id"]
        assert len(queued(target, device_id, kind)) == 1, rule(
            "queue.on-create", f"a device created with {what} is queued at once"
        )
        titles = target_titles(target, device_id, kind)
        assert titles == [package["title"]], rule(
            "queue.on-create", f"a device created with {what} is queued for it: {titles}"
        )
    states = target.states(without["id"]["id"], kind)
    assert states == [], rule(
        "queue.on-create", f"a device created without a package is not queued: {states}"
    )


@pytest.mark.rules("queue.profile-followers", "queue.removed-when-none")
@kinds
def test_a_profile_assignment_skips_devices_with_their_own(
    target: Target, profile: str, kind: Kind
) -> None:
    own = target.package(profile, b"own" * 10, kind=kind)
    follower, _ = target.device(profile)
    keeper, _ = target.device(profile, **{kind.field: own["id"]})
    follower_id, keeper_id = follower["id"]["id"], keeper["id"]["id"]
    before = target.telemetry(keeper_id, kind.state)
    profiles = target.package(profile, b"profile" * 10, kind=kind)
    target.assign_profile(profile, profiles)
    titles = target_titles(target, follower_id, kind)
    assert titles == [profiles["title"]], rule(
        "queue.profile-followers", "a profile's new package is queued for its devices without"
    )
    after = target.telemetry(keeper_id, kind.state)
    assert after[: len(before)] == before and "QUEUED" not in [
        v for _, v in after[len(before) :]
    ], rule("queue.profile-followers", "a profile's new package skips the devices with their own")
    target.notified(follower_id, profiles)
    target.notified(keeper_id, own)
    counts = [len(queued(target, one, kind)) for one in (follower_id, keeper_id)]
    assert target.assign_profile(profile, None, kind).status_code == 200
    left = kind_keys(target.shared(follower_id), kind)
    assert not left, rule(
        "queue.removed-when-none", f"clearing the profile's package deletes the keys: {left}"
    )
    kept = kind_keys(target.shared(keeper_id), kind)
    assert kept == announcement(own, kind), rule(
        "queue.removed-when-none", f"a device with its own keeps its keys: {kept}"
    )
    now = [len(queued(target, one, kind)) for one in (follower_id, keeper_id)]
    assert now == counts, rule(
        "queue.removed-when-none", f"clearing the profile's package queues nothing: {counts}, {now}"
    )


@pytest.mark.rules("queue.unchanged-not-queued")
@kinds
def test_saving_a_device_unchanged_queues_nothing(target: Target, profile: str, kind: Kind) -> None:
    package = target.package(profile, b"same" * 10, kind=kind)
    device, _ = target.device(profile, **{kind.field: package["id"]})
    target.save_device(device, label="relabelled")
    target.assign(device, package)
    states = target.states(device["id"]["id"], kind)
    assert states.count("QUEUED") == 1, rule(
        "queue.unchanged-not-queued", f"relabelled and saved with its package: {states}"
    )


@pytest.mark.rules(
    "state.server-writes-two",
    "state.queued-again",
    "state.reported-kept",
    "queue.on-change",
    "queue.removed-when-none",
)
@kinds
def test_the_server_writes_only_queued_and_initiated(
    target: Target, profile: str, kind: Kind
) -> None:
    first = target.package(profile, b"first" * 10, kind=kind)
    second = target.package(profile, b"second" * 10, kind=kind)
    device, token = target.device(profile)
    device_id = device["id"]["id"]
    for package in (first, second, first):
        target.assign(device, package)
        target.notified(device_id, package)
    states = target.states(device_id, kind)
    assert states == ["QUEUED", "INITIATED"] * 3, rule(
        "state.queued-again",
        f"each assignment, back to an earlier package too, is QUEUED then INITIATED: {states}",
    )
    titles = target_titles(target, device_id, kind)
    assert titles == [first["title"], second["title"], first["title"]], rule(
        "queue.on-change", f"each change of package is queued for the new one: {titles}"
    )
    target.assign(device, None, kind)
    assert target.states(device_id, kind) == states, rule(
        "queue.removed-when-none", "an unassignment queues nothing"
    )
    left = kind_keys(target.shared(device_id), kind)
    assert not left, rule("queue.removed-when-none", f"unassignment deletes the keys: {left}")
    reported = ["UPDATED", "IDLE", "DOWNLOADING", "FAILED", "FAILED"]
    with HttpDevice(target.url, token) as http:
        for state in reported:
            assert http.post("telemetry", {kind.state: state}).status_code == 200
            time.sleep(0.005)  # one point per millisecond: the same ts would replace the last
    states = target.states(device_id, kind)
    assert states[6:] == reported, rule(
        "state.reported-kept", f"every reported state is kept, in its order: {states}"
    )
    written = [s for s in states[:6] if s in DEVICE_STATES]
    current = [key for key in timeseries_keys(target, device_id) if key.startswith("current_")]
    assert not written and not current, rule(
        "state.server-writes-two", f"the server wrote {written} {current}"
    )


@pytest.mark.rules("queue.pace", "queue.stale-skipped", "queue.deleted-device-skipped")
@kinds
def test_the_pace_is_kept_and_stale_records_skipped(
    target: Target, profile: str, kind: Kind
) -> None:
    slow_pace(target)
    size, interval = target.pack_size, target.pack_interval_ms
    other = target.profile()
    late = target.package(other, b"late" * 10, kind=kind)
    lasting = target.package(other, b"lasting" * 10, kind=kind)
    device, _ = target.device(other)
    doomed, _ = target.device(other)
    survivor, _ = target.device(other)
    burst = [target.device(profile)[0]["id"]["id"] for _ in range(2 * size + 1)]
    target.assign_profile(profile, target.package(profile, b"paced" * 100, kind=kind))
    target.assign(device, late)  # behind two whole packs: it waits two intervals at least
    target.assign(device, None, kind)  # and goes stale before its turn
    target.assign(doomed, lasting)
    target.call("DELETE", f"/api/device/{doomed['id']['id']}")  # gone before its turn
    target.assign(survivor, lasting)

    def times() -> list[int]:
        return sorted(
            ts
            for device_id in burst
            for ts, value in target.telemetry(device_id, kind.state)
            if value == "INITIATED"
        )

    target.wait(lambda: len(times()) >= len(burst), "every device INITIATED")
    found = times()
    for first, later in zip(found, found[size:], strict=False):
        assert later - first >= interval, rule(
            "queue.pace", f"at most {size} notifications per {interval} ms"
        )
    survivor_id = survivor["id"]["id"]
    target.wait(
        lambda: "INITIATED" in target.states(survivor_id, kind),
        rule("queue.deleted-device-skipped", "the record after a deleted device's is processed"),
    )
    target.notified(survivor_id, lasting)  # the stale record had its turn before, in order
    device_id = device["id"]["id"]
    assert "INITIATED" not in target.states(device_id, kind), rule(
        "queue.stale-skipped",
        "a queued record whose package is no longer the device's is skipped (INITIATED)",
    )
    assert kind.key("title") not in target.shared(device_id), rule(
        "queue.stale-skipped",
        "a queued record whose package is no longer the device's is skipped (attributes)",
    )


@pytest.mark.otakit_extension
@pytest.mark.rules("queue.already-on-target")
@kinds
def test_devices_already_on_target_are_not_notified(
    target: Target, profile: str, kind: Kind
) -> None:
    package = target.package(profile, b"current" * 100, kind=kind)
    device, token = target.device(profile)
    report_current(target, token, kind, package)
    target.assign(device, package)
    assert target.states(device["id"]["id"], kind) == [], rule(
        "queue.already-on-target", "a device already on the package is not notified"
    )
    # Through the profile: only the device that is not on the package yet is queued.
    on_it, on_it_token = target.device(profile)
    behind, _ = target.device(profile)
    report_current(target, on_it_token, kind, package)
    assert target.assign_profile(profile, package).status_code == 200
    assert target.states(on_it["id"]["id"], kind) == [], rule(
        "queue.already-on-target", "a profile's package skips the devices already on it"
    )
    assert queued(target, behind["id"]["id"], kind), rule(
        "queue.already-on-target", "a profile's package is queued for the devices not on it"
    )


@pytest.mark.otakit_extension
@pytest.mark.rules("queue.reported-since-skipped")
@kinds
def test_a_device_that_reported_since_its_record_is_not_notified(
    target: Target, profile: str, kind: Kind
) -> None:
    slow_pace(target)
    package = target.package(profile, b"ahead" * 100, kind=kind)
    # Two packs of devices ahead of it, so that its record waits about two intervals.
    ahead = [
        target.device(profile, **{kind.field: package["id"]})[0]["id"]["id"]
        for _ in range(2 * target.pack_size)
    ]
    reporter, token = target.device(profile, **{kind.field: package["id"]})
    with HttpDevice(target.url, token) as http:  # it asked for the keys and got going at once
        assert http.post("telemetry", {kind.state: "DOWNLOADING"}).status_code == 200
    target.drained(ahead, kind)
    states = target.states(reporter["id"]["id"], kind)
    assert states == ["QUEUED", "DOWNLOADING"], rule(
        "queue.reported-since-skipped", f"the device's states: {states}"
    )
    expected = announcement(package, kind)
    target.wait(
        lambda: target.shared(reporter["id"]["id"]) == expected,
        rule("queue.reported-since-skipped", "its attributes announce the package all the same"),
    )
