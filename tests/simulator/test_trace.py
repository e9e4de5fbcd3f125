"""The trace file: written in batches, read back whole, and reduced to per-device sequences."""

from __future__ import annotations

from pathlib import Path

import pytest
from otasim.trace import (
    TraceWriter,
    device_events,
    read_trace,
    request_sequences,
    state_sequences,
)

EVENTS = [
    {"t": 0.0, "device": "", "event": "run", "seed": 1, "config": {"faults": {"none": 1.0}}},
    {"t": 0.5, "device": "a", "event": "state", "state": "DOWNLOADING"},
    {"t": 0.6, "device": "a", "event": "request", "index": 0, "size": 1024},
    {"t": 0.7, "device": "b", "event": "state", "state": "DOWNLOADING"},
    {"t": 0.8, "device": "a", "event": "chunk", "index": 0, "bytes": 1024, "ms": 1.5},
    {"t": 0.9, "device": "a", "event": "request", "index": 1, "size": 512},
    {"t": 1.0, "device": "a", "event": "state", "state": "FAILED", "error": "bad checksum"},
    {"t": 1.1, "device": "", "event": "end", "timed_out": False},
]


def test_a_trace_reads_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    with TraceWriter(path, buffer_lines=3) as trace:
        for event in EVENTS[:-1]:
            trace.write(event)
        trace.emit(1.1, "", "end", timed_out=False)
    assert read_trace(path) == EVENTS
    assert len(path.read_text().splitlines()) == len(EVENTS)


def test_the_writer_buffers_until_full_or_closed(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = TraceWriter(path, buffer_lines=3)
    trace.write(EVENTS[0])
    trace.write(EVENTS[1])
    assert path.read_text() == ""
    trace.write(EVENTS[2])
    assert len(read_trace(path)) == 3
    trace.write(EVENTS[3])
    trace.close()
    trace.close()
    assert read_trace(path) == EVENTS[:4]
    with pytest.raises(ValueError, match="closed"):
        trace.write(EVENTS[4])


def test_a_new_writer_starts_the_file_over_unless_told_to_append(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    for _ in range(2):
        with TraceWriter(path) as trace:
            trace.write(EVENTS[0])
    assert read_trace(path) == EVENTS[:1]
    with TraceWriter(path, append=True) as trace:
        trace.write(EVENTS[1])
    assert read_trace(path) == EVENTS[:2]


def test_a_last_line_cut_short_is_left_out_but_a_bad_line_elsewhere_raises(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text('{"t": 0, "device": "", "event": "run"}\n\n{"t": 1, "dev')
    assert read_trace(path) == [{"t": 0, "device": "", "event": "run"}]
    path.write_text('{"t": 0, "dev\n{"t": 1, "device": "", "event": "end"}\n')
    with pytest.raises(ValueError, match=":1:"):
        read_trace(path)
    path.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="not a JSON object"):
        read_trace(path)


def test_sequences_per_device_leave_timestamps_out() -> None:
    assert state_sequences(EVENTS) == {"a": ["DOWNLOADING", "FAILED"], "b": ["DOWNLOADING"]}
    assert request_sequences(EVENTS) == {"a": [(0, 1024), (1, 512)]}
    shifted = [{**e, "t": e["t"] + 5} for e in EVENTS]
    assert state_sequences(shifted) == state_sequences(EVENTS)
    assert device_events(EVENTS, "b") == [EVENTS[3]]
    assert [e["event"] for e in device_events(EVENTS, "a")] == [
        "state",
        "request",
        "chunk",
        "request",
        "state",
    ]
    assert device_events(EVENTS, "nobody") == []
