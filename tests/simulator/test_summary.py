"""The summary of a trace, on a small fleet whose every figure is known, and its merge."""

from __future__ import annotations

import bisect
from typing import Any

import pytest
from otasim.summary import merge, summarize, summary_exit_ok

from tests.simulator.synthetic import fleet_trace, run_event, shard_of


def ev(t: float, device: str, event: str, **fields: Any) -> dict[str, Any]:
    return {"t": t, "device": device, "event": event, **fields}


def plan(t: float, device: str, fault: str, predicted: str, **more: Any) -> dict[str, Any]:
    return ev(t, device, "plan", transport="mqtt", chunk_size=500, fault=fault,
              predicted=predicted, **more)  # fmt: skip


def final(t: float, device: str, state: str, fetched: int, reason: str = "") -> dict[str, Any]:
    return ev(t, device, "final", state=state, fetched=fetched, image_size=1000,
              matched=not reason, reason=reason)  # fmt: skip


def small_trace() -> list[dict[str, Any]]:
    """Five devices: d1 updates, d2 fails as predicted, d3 is pushed twice and fetches 1.5
    images, d4 (renotify allowed) never ends, d5 is never notified."""
    run = {**run_event(5), "pack_size": 2, "pack_interval_ms": 1000, "image_size": 1000}
    return [
        run,
        plan(0.0, "d1", "none", "UPDATED"),
        plan(0.0, "d2", "bad_checksum", "FAILED"),
        plan(0.0, "d3", "disconnect", "UPDATED"),
        plan(0.0, "d4", "stall", "FAILED", renotify=True),
        plan(0.0, "d5", "none", "UPDATED"),
        ev(10.0, "", "assigned"),
        ev(10.1, "d1", "notified", push=True),
        ev(10.2, "d1", "state", state="DOWNLOADING"),
        ev(10.2, "d2", "notified", push=True),
        ev(10.2, "d1", "request", index=0, size=500),
        ev(10.25, "d1", "chunk", index=0, bytes=500, ms=5.0),
        ev(10.3, "d1", "request", index=1, size=500),
        ev(10.35, "d1", "chunk", index=1, bytes=500, ms=15.0),
        ev(10.3, "d2", "state", state="DOWNLOADING"),
        ev(10.4, "d2", "chunk", index=0, bytes=500, ms=10.0),
        ev(10.5, "d1", "state", state="DOWNLOADED"),
        ev(10.5, "d2", "chunk", index=1, bytes=500, ms=20.0),
        ev(10.6, "d1", "state", state="VERIFIED"),
        ev(10.7, "d1", "state", state="UPDATING"),
        ev(11.0, "d2", "state", state="FAILED", error="checksum"),
        ev(11.5, "d3", "notified", push=True),
        ev(11.6, "d4", "notified", push=True),
        ev(11.6, "d3", "state", state="DOWNLOADING"),
        ev(11.7, "d4", "state", state="DOWNLOADING"),
        ev(11.8, "d3", "chunk", index=0, bytes=500, ms=30.0),
        ev(11.9, "d3", "fault", model="disconnect", detail="at chunk 1"),
        ev(12.0, "d1", "state", state="UPDATED"),
        final(12.1, "d1", "UPDATED", 1000),
        final(12.2, "d2", "FAILED", 1000),
        ev(12.4, "d4", "notified", push=True),
        ev(12.6, "d3", "chunk", index=0, bytes=500, ms=40.0),
        ev(13.0, "d3", "notified", push=True),
        ev(13.1, "d3", "chunk", index=1, bytes=500, ms=50.0),
        ev(14.0, "d3", "state", state="UPDATED"),
        final(14.1, "d3", "UPDATED", 1500, reason="fetched chunk 0 twice"),
        final(14.2, "d5", "FAILED", 0, reason="never notified"),
        ev(15.0, "", "end", timed_out=True),
    ]


def test_the_summary_of_a_small_fleet_has_the_known_figures() -> None:
    s = summarize(small_trace())
    assert set(s) == {
        "seed", "devices", "shards", "pack_size", "pack_interval_ms", "image_size",
        "final_states", "mismatches", "pace", "notified_twice", "never_notified", "latency",
        "bytes", "faults", "series", "ok",
    }  # fmt: skip
    assert (s["seed"], s["devices"], s["shards"]) == (7, 5, ["1/1"])
    assert (s["pack_size"], s["pack_interval_ms"], s["image_size"]) == (2, 1000, 1000)
    assert s["final_states"] == {"UPDATED": 2, "FAILED": 2, "NONE": 1}
    assert s["mismatches"] == [
        {"device": "d3", "fault": "disconnect", "predicted": "UPDATED", "actual": "UPDATED",
         "reason": "fetched chunk 0 twice"},
        {"device": "d5", "fault": "none", "predicted": "UPDATED", "actual": "FAILED",
         "reason": "never notified"},
    ]  # fmt: skip
    # Pushes at 10.1 10.2 11.5 11.6 12.4 13.0: at most 2 in any 900 ms window. The rate is
    # judged on the four devices' first pushes: they need 1 interval at 2 per second, took 1.5 s.
    assert s["pace"] == {
        "window_ms": 900.0,
        "max_in_window": 2,
        "violations": 0,
        "allowed_rate_fraction": pytest.approx(1.0 / 1.5),
        "notifications": 6,
        "source": "devices",  # the trace holds no server times: the arrivals are judged
        "max_received_in_window": 2,
    }
    assert s["notified_twice"] == ["d3"]  # d4 is pushed twice too, but its plan allows it
    assert s["never_notified"] == ["d5"]
    latency = s["latency"]
    assert latency["notify_ms"] == pytest.approx(
        {"count": 4, "p50": 200.0, "p90": 1600.0, "p99": 1600.0, "max": 1600.0}
    )
    assert latency["time_to_updated_s"] == pytest.approx(
        {"count": 2, "p50": 2.0, "p90": 4.0, "p99": 4.0, "max": 4.0}
    )
    assert latency["chunk_rtt_ms"] == {
        "count": 7, "p50": 20.0, "p90": 50.0, "p99": 50.0, "max": 50.0,
    }  # fmt: skip
    assert s["bytes"] == {"fetched": 3500, "images": 4000, "ratio": 0.875}
    assert s["faults"] == {
        "bad_checksum": {"FAILED": 1},
        "disconnect": {"UPDATED": 1},
        "none": {"UPDATED": 1, "FAILED": 1},
        "stall": {"NONE": 1},
    }
    assert s["ok"] is False


def test_the_series_hold_states_over_time_pushes_per_interval_and_raw_figures() -> None:
    series = summarize(small_trace(), state_samples=16)["series"]
    assert set(series) == {
        "states", "notifications", "push_times", "first_push_times", "server_times",
        "first_server_times", "notify_ms", "time_to_updated_s", "chunk_rtt_ms",
    }  # fmt: skip
    states = series["states"]
    assert len(states) == 16
    assert states[0] == [0.0, {"IDLE": 5}]
    assert states[-1] == [15.0, {"DOWNLOADING": 1, "FAILED": 1, "IDLE": 1, "UPDATED": 2}]
    at_11 = dict(states)[11.0]  # the grid is every second
    assert at_11 == {"FAILED": 1, "IDLE": 3, "UPDATING": 1}
    assert all(sum(counts.values()) == 5 for _, counts in states)
    assert series["notifications"] == [[10.0, 2], [11.0, 2], [12.0, 1], [13.0, 1]]
    assert series["push_times"] == [10.1, 10.2, 11.5, 11.6, 12.4, 13.0]
    assert series["first_push_times"] == [10.1, 10.2, 11.5, 11.6]
    assert series["chunk_rtt_ms"] == [5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0]
    assert series["time_to_updated_s"] == pytest.approx([2.0, 4.0])
    assert series["notify_ms"] == pytest.approx([100.0, 200.0, 1500.0, 1600.0])


def test_a_clean_run_is_ok_and_each_kind_of_failure_is_not() -> None:
    clean = summarize(fleet_trace(120, mismatch_every=0))
    assert clean["mismatches"] == [] and clean["pace"]["violations"] == 0
    assert clean["ok"] is True and summary_exit_ok(clean)
    for broken in (
        {"mismatches": [{"device": "x"}]},
        {"pace": {**clean["pace"], "violations": 1}},
        {"notified_twice": ["x"]},
        {"never_notified": ["x"]},
        {"final_states": {**clean["final_states"], "NONE": 1}},
    ):
        assert not summary_exit_ok({**clean, **broken}), broken


def test_the_servers_notification_times_judge_its_pace_when_it_recorded_them() -> None:
    events = fleet_trace(200, mismatch_every=0)
    # Pushes of the second hundred arrive a pack interval early (delayed ones of the first
    # hundred would look the same at the devices)...
    late = [
        {**e, "t": e["t"] - 4.0} if e["event"] == "notified" and e["device"] >= "sim-00100" else e
        for e in events
    ]
    # ...while the server notified 50 every 2 s, as its INITIATED telemetry says.
    names = sorted({str(e["device"]) for e in events if e["device"]})
    stamps = [
        ev(99.0, name, "server", state="UPDATED", notified=[1_000_000 + 2000 * (i // 50)])
        for i, name in enumerate(names)
    ]
    pace = summarize(late + stamps)["pace"]
    assert pace["source"] == "server" and pace["notifications"] == 200
    assert pace["max_in_window"] == 50 and pace["violations"] == 0
    assert pace["max_received_in_window"] > 50
    # A server that did notify too fast is caught on its own times as well.
    fast = [
        ev(99.0, name, "server", state="UPDATED", notified=[1_000_000 + 2000 * (i // 100)])
        for i, name in enumerate(names)
    ]
    assert summarize(events + fast)["pace"]["violations"] >= 1


def test_a_server_that_pushes_too_fast_fails_the_pace_check() -> None:
    events = fleet_trace(200, mismatch_every=0)
    # The same campaign, every push one pack interval earlier for the second hundred.
    fast = [
        {**e, "t": e["t"] - 4.0} if e["event"] == "notified" and e["device"] >= "sim-00100" else e
        for e in events
    ]
    s = summarize(fast)
    assert s["pace"]["max_in_window"] > 50
    assert s["pace"]["violations"] >= 1
    assert s["ok"] is False


def test_no_assignment_and_no_devices_give_empty_figures_not_errors() -> None:
    s = summarize([run_event(0), ev(1.0, "", "end", timed_out=False)])
    assert s["devices"] == 0
    assert s["final_states"] == {"UPDATED": 0, "FAILED": 0, "NONE": 0}
    assert s["latency"]["notify_ms"] == {
        "count": 0, "p50": None, "p90": None, "p99": None, "max": None,
    }  # fmt: skip
    assert s["bytes"] == {"fetched": 0, "images": 0, "ratio": 0.0}
    assert s["series"]["states"][-1] == [1.0, {}]
    assert summarize([])["pace"]["notifications"] == 0


def test_two_halves_merged_equal_the_whole() -> None:
    events = fleet_trace(300)
    whole = summarize(events)
    halves = [summarize(shard_of(events, i, 2)) for i in range(2)]
    assert halves[0]["devices"] == halves[1]["devices"] == 150
    merged = merge(halves)
    assert merged["shards"] == ["1/2", "2/2"]
    for key in (
        "seed", "devices", "pack_size", "pack_interval_ms", "image_size", "final_states",
        "mismatches", "pace", "notified_twice", "never_notified", "latency", "bytes", "faults",
        "ok",
    ):  # fmt: skip
        assert merged[key] == whole[key], key
    for key in ("notifications", "push_times", "notify_ms", "time_to_updated_s", "chunk_rtt_ms"):
        assert merged["series"][key] == whole["series"][key], key
    assert whole["mismatches"] and whole["pace"]["violations"] == 0
    assert merged["series"]["states"][-1] == whole["series"]["states"][-1]
    assert merge([whole]) == {**whole, "series": {**whole["series"]}}


def test_merging_downsampled_halves_keeps_percentiles_close() -> None:
    events = fleet_trace(300)
    whole = summarize(events)
    halves = [summarize(shard_of(events, i, 2), sample_limit=500) for i in range(2)]
    assert len(halves[0]["series"]["chunk_rtt_ms"]) == 500  # of 2400 round trips
    merged = merge(halves, sample_limit=500)
    truth = whole["latency"]["chunk_rtt_ms"]
    got = merged["latency"]["chunk_rtt_ms"]
    assert got["count"] == truth["count"] == 4800
    assert got["max"] == truth["max"]
    # Each kept value stands for about ten measured ones: judge the percentiles by their rank
    # among all the round trips, which is what a downsampled merge can keep.
    measured = sorted(e["ms"] for e in events if e["event"] == "chunk")
    for q in (50, 90, 99):
        rank = bisect.bisect_right(measured, got[f"p{q}"])
        assert abs(rank - q / 100 * len(measured)) <= 0.01 * len(measured), q
    assert len(merged["series"]["chunk_rtt_ms"]) == 500
    assert merged["pace"] == whole["pace"]


def test_summaries_of_different_settings_do_not_merge() -> None:
    a = summarize(fleet_trace(10))
    b = {**a, "pack_size": 10}
    with pytest.raises(ValueError, match="pack_size"):
        merge([a, b])
    with pytest.raises(ValueError):
        merge([])


def test_a_server_that_recorded_another_state_than_the_device_ended_in_is_a_mismatch() -> None:
    events = fleet_trace(60, mismatch_every=0)
    finals = [e for e in events if e["event"] == "final"]
    agree, disagree = finals[0], finals[1]
    events.append(
        {"t": 99.0, "device": agree["device"], "event": "server", "state": agree["state"]}
    )
    events.append({"t": 99.0, "device": disagree["device"], "event": "server", "state": "QUEUED"})
    summary = summarize(events)
    assert [m["device"] for m in summary["mismatches"]] == [disagree["device"]]
    assert "the server recorded QUEUED" in summary["mismatches"][0]["reason"]
    assert summary["ok"] is False
