"""One row of the fleet benchmarks' table, shared by benchmarks.fleet and the transport rows.

A module that measures figures returns a list of Row; benchmarks.fleet collects them and prints
them with print_table, each figure side by side with its goal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Row:
    """A measured figure next to its goal.

    met is None for an informative row (no goal, or a figure that could not be measured);
    baseline names what the figure is compared with, when there is such a thing (for example
    mosquitto's figure on the same machine).
    """

    figure: str
    goal: str
    backend: str
    measured: str
    met: bool | None
    baseline: str = ""


HEADER = ("figure", "goal", "backend", "measured", "met", "baseline")


def verdict(met: bool | None) -> str:
    if met is None:
        return "-"
    return "yes" if met else "NO"


def _cell(text: str) -> str:
    # A pipe would split the cell; a newline would end the row.
    return text.replace("|", "\\|").replace("\n", " ")


def format_table(rows: Iterable[Row]) -> str:
    """A markdown table, one line per row, columns padded so it also reads as plain text."""
    lines = [
        HEADER,
        *((r.figure, r.goal, r.backend, r.measured, verdict(r.met), r.baseline) for r in rows),
    ]
    cells = [[_cell(c) for c in line] for line in lines]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]

    def render(line: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([render(cells[0]), rule, *(render(line) for line in cells[1:])])


def print_table(rows: Iterable[Row], file: TextIO | None = None) -> None:
    print(format_table(rows), file=file, flush=True)
