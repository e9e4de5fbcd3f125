"""Synthetic traces in the design's event schema, for the analysis and report tests."""

from __future__ import annotations

import random
from typing import Any

Event = dict[str, Any]

FAULTS = (
    ("none", "UPDATED"),
    ("bad_checksum", "FAILED"),
    ("disconnect", "UPDATED"),
    ("boot_failure", "FAILED"),
    ("slow_link", "UPDATED"),
)
TRANSPORTS = ("mqtt", "mqtt5", "http", "coap")


def run_event(devices: int, shard: str = "1/1", pack_size: int = 50) -> Event:
    return {
        "t": 0.0,
        "device": "",
        "event": "run",
        "seed": 7,
        "devices": devices,
        "shard": shard,
        "pack_size": pack_size,
        "pack_interval_ms": 2000,
        "image_size": 65536,
        "config": {},
    }


def fleet_trace(devices: int = 300, seed: int = 7, mismatch_every: int = 37) -> list[Event]:
    """A paced campaign (50 pushes per 2 s) of `devices` devices with a mix of fault models.

    Every `mismatch_every`-th device ends against its prediction; one in 60 is offline at the
    push and learns by asking; the run ends at the last device's final event.
    """
    rng = random.Random(seed)
    assigned = 1.0
    events: list[Event] = [
        run_event(devices),
        {"t": assigned, "device": "", "event": "assigned"},
    ]
    chunk_size = 4096
    chunks = 65536 // chunk_size
    for i in range(devices):
        name = f"sim-{i:05d}"
        fault, predicted = FAULTS[i % len(FAULTS)] if i % 3 == 0 else FAULTS[0]
        mismatched = mismatch_every > 0 and i % mismatch_every == mismatch_every - 1
        actual = ("FAILED" if predicted == "UPDATED" else "UPDATED") if mismatched else predicted

        def add(t: float, event: str, _name: str = name, **fields: Any) -> None:
            events.append({"t": round(t, 6), "device": _name, "event": event, **fields})

        add(0.01 * (i % 20), "plan", transport=TRANSPORTS[i % 4], chunk_size=chunk_size,
            fault=fault, predicted=predicted)  # fmt: skip
        add(0.2 + 0.001 * i, "connected", ms=rng.uniform(2, 30))
        t = assigned + 2.0 * (i // 50) + rng.uniform(0.0, 0.04)
        add(t, "notified", push=i % 60 != 59)
        t += 0.01
        add(t, "state", state="DOWNLOADING")
        fetched = 0
        for index in range(chunks):
            add(t, "request", index=index, size=chunk_size)
            rtt = rng.lognormvariate(2.5, 0.8)
            t += rtt / 1000 + rng.uniform(0.001, 0.05)
            add(t, "chunk", index=index, bytes=chunk_size, ms=rtt)
            fetched += chunk_size
            if fault != "none" and index == 3:
                add(t, "fault", model=fault, detail=f"at chunk {index}")
        add(t + 0.01, "state", state="DOWNLOADED")
        if actual == "FAILED" and fault in ("bad_checksum", "none"):
            add(t + 0.02, "state", state="FAILED", error="checksum mismatch")
        else:
            add(t + 0.02, "state", state="VERIFIED")
            add(t + 0.03, "state", state="UPDATING")
            t += rng.uniform(0.5, 3.0)
            add(t, "state", state=actual, **({} if actual == "UPDATED" else {"error": "boot"}))
        reason = f"expected {predicted}, ended {actual}" if mismatched else ""
        add(t + 0.05, "final", state=actual, fetched=fetched, image_size=65536,
            matched=not mismatched, reason=reason)  # fmt: skip
    end = max(e["t"] for e in events) + 0.1
    events.append({"t": end, "device": "", "event": "end", "timed_out": False})
    events.sort(key=lambda e: e["t"])
    return events


def shard_of(events: list[Event], shard: int, shards: int) -> list[Event]:
    """The events one of `shards` workers would have written: its devices, the run's own events."""
    devices = sorted({e["device"] for e in events if e["device"]})
    mine = set(devices[shard::shards])
    picked: list[Event] = []
    for e in events:
        if e["event"] == "run":
            picked.append({**e, "shard": f"{shard + 1}/{shards}"})
        elif not e["device"] or e["device"] in mine:
            picked.append(e)
    return picked
