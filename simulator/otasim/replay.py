"""`--replay DEVICE`: one device of a trace run again alone, its sequences compared.

The seed decides the device's transport, chunk size, fault and every random choice, so alone
it must report the same states and request the same chunks as it did in the fleet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from otasim import campaign
from otasim.campaign import Config, Server
from otasim.trace import read_trace, request_sequences, state_sequences


async def replay(
    server: Server,
    config: Config,
    trace: Path,
    device: str,
    report_dir: Path,
    report: Callable[[str], None],
) -> tuple[bool, list[str]]:
    """Runs `device` of `trace` again; whether its sequences match, and lines that say how."""
    before = read_trace(trace)
    if device not in state_sequences(before):
        raise ValueError(f"--replay: {device!r} is not in {trace}")
    again = report_dir / f"replay-{device}.jsonl"
    await campaign.run(server, config, again, replay=device, report=report)
    after = read_trace(again)
    lines = []
    same = True
    for what, sequences in (("states", state_sequences), ("requests", request_sequences)):
        old, new = sequences(before).get(device, []), sequences(after).get(device, [])
        same = same and old == new
        verdict = "the same" if old == new else f"DIFFERENT: was {old}, now {new}"
        lines.append(f"{device} {what}: {verdict}")
    lines.append(f"{device} states: {' '.join(state_sequences(after).get(device, []))}")
    lines.append(f"replay trace: {again}")
    return same, lines
