"""Expected failures of a target: the checks a given server is known to fail, each with why.

A file lists one check per line, by name (`test_http_chunks` for all its parameters,
`test_http_chunks[sw]` for one, or `test_chunks.py::test_http_chunks[sw]`), with the reason after
`#`; blank lines and lines that are only a comment are skipped. The list is strict, as
tuf-conformance's is: a listed check that fails is an expected failure, one that passes fails the
run (the target was fixed, so the line must go), and a line that names no check is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

FIXED = "passes now, though listed as an expected failure: remove its line"
XPASS = "[XPASS(strict)]"  # how pytest reports a strict expected failure that passed


@dataclass(frozen=True)
class Expected:
    name: str
    reason: str
    line: int


def read(path: Path) -> list[Expected]:
    found = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        name, _, reason = raw.partition("#")
        if name.strip():
            found.append(Expected(name.strip(), reason.strip() or "expected to fail", number))
    return found


def names_of(item: pytest.Item) -> set[str]:
    """The names a line may give a collected check by."""
    module = Path(str(item.fspath)).name
    short = {item.name, getattr(item, "originalname", item.name)}
    return short | {f"{module}::{name}" for name in short}


def mark(items: list[pytest.Item], path: Path) -> None:
    """Marks each listed check as a strict expected failure; refuses a line naming no check."""
    expected = read(path)
    matched: set[int] = set()
    for item in items:
        names = names_of(item)
        for entry in expected:
            if entry.name in names:
                matched.add(entry.line)
                item.add_marker(pytest.mark.xfail(reason=entry.reason, strict=True))
                break
    unknown = [f"line {e.line}: {e.name}" for e in expected if e.line not in matched]
    if unknown:
        raise pytest.UsageError(f"{path} names no collected check: {'; '.join(unknown)}")
