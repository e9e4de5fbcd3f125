"""The event trace: one JSON object per line, the one input of every analysis (see the design).

Every event has `t` (seconds since the run started), `device` ("" for run-level events) and
`event`. The sequences below leave timestamps out, so two runs with the same seed compare equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

Event = dict[str, Any]


class TraceWriter:
    """Writes events to a JSON lines file, `buffer_lines` at a time (an event loop's I/O is cheap
    when it writes in batches); `close()` writes the rest.

    The file starts empty unless `append` is true: a rerun into the same path must not leave two
    runs in one trace.
    """

    def __init__(self, path: str | Path, buffer_lines: int = 1000, *, append: bool = False) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = self.path.open("a" if append else "w", encoding="utf-8")
        self._buffer: list[str] = []
        self._buffer_lines = max(1, buffer_lines)

    def write(self, event: Mapping[str, Any]) -> None:
        """Queue one event (a mapping with at least t, device and event)."""
        if self._file is None:
            raise ValueError(f"trace {self.path} is closed")
        self._buffer.append(json.dumps(event, separators=(",", ":"), allow_nan=False))
        if len(self._buffer) >= self._buffer_lines:
            self.flush()

    def emit(self, t: float, device: str, event: str, **fields: Any) -> None:
        """Queue {"t", "device", "event", **fields}."""
        self.write({"t": t, "device": device, "event": event, **fields})

    def flush(self) -> None:
        if self._file is None or not self._buffer:
            return
        self._file.write("\n".join(self._buffer) + "\n")
        self._file.flush()
        self._buffer.clear()

    def close(self) -> None:
        if self._file is None:
            return
        self.flush()
        self._file.close()
        self._file = None

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_trace(path: str | Path) -> list[Event]:
    """All events of a trace file in file order.

    A last line cut short (a run killed while writing) is left out; a bad line elsewhere raises.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    events: list[Event] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                break
            raise ValueError(f"{path}:{number}: not a JSON object: {exc}") from exc
        if not isinstance(event, dict):
            raise ValueError(f"{path}:{number}: not a JSON object")
        events.append(event)
    return events


def device_events(events: Iterable[Mapping[str, Any]], device: str) -> list[Event]:
    """One device's events, in trace order."""
    return [dict(e) for e in events if e.get("device") == device]


def state_sequences(events: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each device's reported states, in trace order."""
    sequences: dict[str, list[str]] = {}
    for e in events:
        if e.get("event") == "state" and e.get("device"):
            sequences.setdefault(e["device"], []).append(e["state"])
    return sequences


def request_sequences(events: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[int, int]]]:
    """Each device's chunk requests as (index, size), in trace order."""
    sequences: dict[str, list[tuple[int, int]]] = {}
    for e in events:
        if e.get("event") == "request" and e.get("device"):
            sequences.setdefault(e["device"], []).append((e["index"], e["size"]))
    return sequences
