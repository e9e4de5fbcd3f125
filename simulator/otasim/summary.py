"""The run's summary (summary.json) from its trace, and the merge of several workers' or shards'.

Definitions beyond the design (docs: notes/sim-design.md):
- `devices` counts the device names that appear in the trace (a shard counts its own).
- Latencies are measured from the run's first `assigned` event; without one they are empty.
  notify_ms uses each device's first push (a renotification is not a latency), time_to_updated_s
  each device's first reported UPDATED.
- `bytes.ratio` is fetched / images, 0.0 when no image size is known.
- A `server` event per device carries the state the server recorded at the end; a device that
  matched its prediction but whose server says otherwise is a mismatch too.
- `ok` also needs every device to have ended (final_states["NONE"] == 0): a device that never
  reached a final state did not match its prediction either.
- `series` keeps, besides the design's four lists, `push_times` (every push arrival, sorted: the
  pace of a merge is recomputed from them), `first_push_times` (each device's first: the
  allowed-rate fraction is judged on the assignment's backlog, not on later renotifications)
  and `notify_ms`, so that every latency can be merged.
  Merging assumes the parts share one clock (the workers of one run); the states series of a
  merge is each part's step function read on a common grid.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .pace import DEFAULT_TOLERANCE_MS, check_pace, max_in_window, per_interval
from .stats import SAMPLE_LIMIT, downsample, merge_samples, percentiles

Summary = dict[str, Any]

IDLE = "IDLE"
NEVER_ENDED = "NONE"
STATE_SAMPLES = 200
LATENCIES = ("notify_ms", "time_to_updated_s", "chunk_rtt_ms")
_SETTINGS = ("seed", "pack_size", "pack_interval_ms", "image_size")


@dataclass
class _Device:
    fault: str = "unknown"
    predicted: str = ""
    renotify: bool = False
    notified: int = 0
    pushes: list[float] = field(default_factory=list)
    updated_at: float | None = None
    final: Mapping[str, Any] | None = None
    server: str | None = None
    stamped: list[float] = field(default_factory=list)  # the server's INITIATED times (s)


def summarize(
    events: Iterable[Mapping[str, Any]],
    *,
    tolerance_ms: float = DEFAULT_TOLERANCE_MS,
    sample_limit: int = SAMPLE_LIMIT,
    state_samples: int = STATE_SAMPLES,
) -> Summary:
    """The design's summary of one trace (or of several workers' traces put together)."""
    run: Mapping[str, Any] = {}
    shards: list[str] = []
    assigned: float | None = None
    end = 0.0
    devices: dict[str, _Device] = {}
    transitions: list[tuple[float, str, str]] = []
    chunk_ms: list[float] = []
    for e in events:
        t = float(e.get("t", 0.0))
        end = max(end, t)
        kind = e.get("event")
        name = e.get("device") or ""
        if not name:
            if kind == "run":
                run = run or e
                if "shard" in e:
                    shards.append(e["shard"])
            elif kind == "assigned" and assigned is None:
                assigned = t
            continue
        device = devices.setdefault(name, _Device())
        if kind == "plan":
            device.fault = e.get("fault", "none")
            device.predicted = e.get("predicted", "")
            device.renotify = bool(e.get("renotify", False))
        elif kind == "notified":
            device.notified += 1
            if e.get("push"):
                device.pushes.append(t)
        elif kind == "state":
            transitions.append((t, name, e["state"]))
            if e["state"] == "UPDATED" and device.updated_at is None:
                device.updated_at = t
        elif kind == "chunk":
            chunk_ms.append(float(e["ms"]))
        elif kind == "final":
            device.final = e
        elif kind == "server":
            device.server = str(e.get("state"))
            device.stamped = [int(ms) / 1000 for ms in e.get("notified", [])]

    pack_size = int(run.get("pack_size", 0))
    interval_ms = float(run.get("pack_interval_ms", 0))
    push_times = sorted(t for d in devices.values() for t in d.pushes)
    first_pushes = sorted(min(d.pushes) for d in devices.values() if d.pushes)
    server_times = sorted(t for d in devices.values() for t in d.stamped)
    first_server_times = sorted(min(d.stamped) for d in devices.values() if d.stamped)
    notify_ms: list[float] = []
    to_updated: list[float] = []
    if assigned is not None:
        notify_ms = [(min(d.pushes) - assigned) * 1000 for d in devices.values() if d.pushes]
        to_updated = [d.updated_at - assigned for d in devices.values() if d.updated_at is not None]
    raw = {"notify_ms": notify_ms, "time_to_updated_s": to_updated, "chunk_rtt_ms": chunk_ms}

    final_states: Counter[str] = Counter({"UPDATED": 0, "FAILED": 0, NEVER_ENDED: 0})
    faults: dict[str, Counter[str]] = {}
    mismatches = []
    fetched = images = 0
    for name, d in sorted(devices.items()):
        state = d.final["state"] if d.final is not None else NEVER_ENDED
        final_states[state] += 1
        faults.setdefault(d.fault, Counter())[state] += 1
        if d.final is not None:
            fetched += int(d.final.get("fetched", 0))
            images += int(d.final.get("image_size", 0))
            if not d.final.get("matched", True):
                mismatches.append(_mismatch(name, d, state))
            elif d.server is not None and d.server != state:
                reason = f"the device ended {state}; the server recorded {d.server}"
                mismatches.append({**_mismatch(name, d, state), "reason": reason})

    summary: Summary = {
        "seed": run.get("seed"),
        "devices": len(devices),
        "shards": shards,
        "pack_size": pack_size,
        "pack_interval_ms": run.get("pack_interval_ms", 0),
        "image_size": run.get("image_size"),
        "final_states": dict(final_states),
        "mismatches": mismatches,
        "pace": _pace(
            (push_times, first_pushes),
            (server_times, first_server_times),
            pack_size,
            interval_ms,
            tolerance_ms,
        ),
        "notified_twice": sorted(
            n for n, d in devices.items() if len(d.pushes) > 1 and not d.renotify
        ),
        "never_notified": sorted(n for n, d in devices.items() if d.notified == 0),
        "latency": {key: percentiles(values) for key, values in raw.items()},
        "bytes": _bytes(fetched, images),
        "faults": {fault: dict(states) for fault, states in sorted(faults.items())},
        "series": {
            "states": _state_series(len(devices), transitions, end, state_samples),
            "notifications": per_interval(push_times, interval_ms),
            "push_times": push_times,
            "first_push_times": first_pushes,
            "server_times": server_times,
            "first_server_times": first_server_times,
            **{key: downsample(values, sample_limit) for key, values in raw.items()},
        },
    }
    summary["ok"] = summary_exit_ok(summary)
    return summary


def merge(
    summaries: Sequence[Mapping[str, Any]],
    *,
    sample_limit: int = SAMPLE_LIMIT,
    state_samples: int = STATE_SAMPLES,
) -> Summary:
    """One summary of a fleet from its workers' or shards' summaries (sharing one clock).

    Counts add and lists concatenate; percentiles come from the kept samples, the pace from the
    kept push times. Raises ValueError when the parts ran different settings (seed, pack size,
    pack interval, image size): their figures do not belong together.
    """
    if not summaries:
        raise ValueError("nothing to merge")
    first = summaries[0]
    for key in _SETTINGS:
        values = {repr(s.get(key)) for s in summaries}
        if len(values) > 1:
            raise ValueError(f"summaries differ in {key}: {', '.join(sorted(values))}")
    pack_size = int(first["pack_size"])
    interval_ms = float(first["pack_interval_ms"])
    tolerance_ms = interval_ms - float(first["pace"]["window_ms"])
    push_times = list(heapq.merge(*(s["series"]["push_times"] for s in summaries)))
    first_pushes = list(heapq.merge(*(s["series"]["first_push_times"] for s in summaries)))
    server_times = list(heapq.merge(*(s["series"].get("server_times", []) for s in summaries)))
    first_server_times = list(
        heapq.merge(*(s["series"].get("first_server_times", []) for s in summaries))
    )

    final_states: Counter[str] = Counter()
    faults: dict[str, Counter[str]] = {}
    for s in summaries:
        final_states.update(s["final_states"])
        for fault, states in s["faults"].items():
            faults.setdefault(fault, Counter()).update(states)
    fetched = sum(int(s["bytes"]["fetched"]) for s in summaries)
    images = sum(int(s["bytes"]["images"]) for s in summaries)

    latency = {}
    kept = {}
    for key in LATENCIES:
        parts = [(s["series"].get(key, []), int(s["latency"][key]["count"])) for s in summaries]
        latency[key], kept[key] = merge_samples(parts, sample_limit)

    merged: Summary = {
        "seed": first.get("seed"),
        "devices": sum(int(s["devices"]) for s in summaries),
        "shards": [shard for s in summaries for shard in s["shards"]],
        "pack_size": pack_size,
        "pack_interval_ms": first["pack_interval_ms"],
        "image_size": first.get("image_size"),
        "final_states": dict(final_states),
        "mismatches": sorted(
            (m for s in summaries for m in s["mismatches"]), key=lambda m: str(m["device"])
        ),
        "pace": _pace(
            (push_times, first_pushes),
            (server_times, first_server_times),
            pack_size,
            interval_ms,
            tolerance_ms,
        ),
        "notified_twice": sorted(d for s in summaries for d in s["notified_twice"]),
        "never_notified": sorted(d for s in summaries for d in s["never_notified"]),
        "latency": latency,
        "bytes": _bytes(fetched, images),
        "faults": {fault: dict(states) for fault, states in sorted(faults.items())},
        "series": {
            "states": _merge_state_series(summaries, state_samples),
            "notifications": per_interval(push_times, interval_ms),
            "push_times": push_times,
            "first_push_times": first_pushes,
            "server_times": server_times,
            "first_server_times": first_server_times,
            **kept,
        },
    }
    merged["ok"] = summary_exit_ok(merged)
    return merged


def _pace(
    received: tuple[list[float], list[float]],
    stamped: tuple[list[float], list[float]],
    pack_size: int,
    interval_ms: float,
    tolerance_ms: float,
) -> dict[str, Any]:
    """The pace, judged on the server's notification times when it recorded them (its INITIATED
    telemetry): a push delayed on its way (a lost CoAP datagram resent, a slow link) lands in the
    next pack's window at the device without the server having gone too fast. The most pushes the
    devices received in one window is kept beside it."""
    source, (times, firsts) = ("server", stamped) if stamped[0] else ("devices", received)
    pace = check_pace(times, pack_size, interval_ms, tolerance_ms, firsts)
    window = float(pace["window_ms"]) / 1000
    return {**pace, "source": source, "max_received_in_window": max_in_window(received[0], window)}


def summary_exit_ok(summary: Mapping[str, Any]) -> bool:
    """Whether the run passed, judged from the summary's figures (not its stored "ok"): no
    mismatch, no pace violation, nobody notified twice or never, every device ended."""
    return (
        not summary["mismatches"]
        and int(summary["pace"]["violations"]) == 0
        and not summary["notified_twice"]
        and not summary["never_notified"]
        and int(summary["final_states"].get(NEVER_ENDED, 0)) == 0
    )


def _mismatch(name: str, device: _Device, state: str) -> dict[str, str]:
    reason = device.final.get("reason", "") if device.final is not None else ""
    return {
        "device": name,
        "fault": device.fault,
        "predicted": device.predicted,
        "actual": state,
        "reason": str(reason),
    }


def _bytes(fetched: int, images: int) -> dict[str, Any]:
    return {"fetched": fetched, "images": images, "ratio": fetched / images if images else 0.0}


def _grid(end: float, samples: int) -> list[float]:
    if end <= 0 or samples < 2:
        return [max(end, 0.0)]
    return [end * i / (samples - 1) for i in range(samples)]


def _state_series(
    devices: int, transitions: list[tuple[float, str, str]], end: float, samples: int
) -> list[list[Any]]:
    """[[t, {state: devices}]] on an even grid up to the last event; not started yet is IDLE."""
    transitions.sort(key=lambda item: item[0])
    counts: Counter[str] = Counter({IDLE: devices})
    current: dict[str, str] = {}
    series: list[list[Any]] = []
    i = 0
    for t in _grid(end, samples):
        while i < len(transitions) and transitions[i][0] <= t:
            _, name, state = transitions[i]
            counts[current.get(name, IDLE)] -= 1
            counts[state] += 1
            current[name] = state
            i += 1
        series.append([t, {state: n for state, n in sorted(counts.items()) if n > 0}])
    return series


def _merge_state_series(summaries: Sequence[Mapping[str, Any]], samples: int) -> list[list[Any]]:
    """Each part's states read as a step function on a grid up to the latest part's end."""
    parts = [(s["series"]["states"], int(s["devices"])) for s in summaries]
    end = max((series[-1][0] for series, _ in parts if series), default=0.0)
    merged: list[list[Any]] = []
    positions = [0] * len(parts)
    for t in _grid(end, samples):
        counts: Counter[str] = Counter()
        for k, (series, devices) in enumerate(parts):
            while positions[k] < len(series) and series[positions[k]][0] <= t:
                positions[k] += 1
            counts.update(series[positions[k] - 1][1] if positions[k] else {IDLE: devices})
        merged.append([t, {state: n for state, n in sorted(counts.items()) if n > 0}])
    return merged
