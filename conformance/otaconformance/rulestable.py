"""Makes the rules table, `docs/conformance-rules.md`, from the rules and the collected checks.

python -m otaconformance.rulestable docs/conformance-rules.md           # write it
python -m otaconformance.rulestable --check docs/conformance-rules.md   # exit 1 if stale or
                                                                        # a rule is unchecked
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest

from .ruledata import NOT_RULES
from .rules import KIND_TYPES, ROLES, TRANSPORTS, Coverage, catalogue, coverage, covered_values
from .rules import problems as rule_problems

CHECKS = Path(__file__).parent / "checks"


class _Collector:
    def __init__(self) -> None:
        self.items: list[tuple[str, tuple[str, ...], Coverage]] = []
        self.unnamed: list[str] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            check = f"{Path(str(item.fspath)).stem}::{getattr(item, 'originalname', item.name)}"
            marker = item.get_closest_marker("rules")
            if marker is None:
                self.unnamed.append(check)
                continue
            callspec = getattr(item, "callspec", None)
            params: dict[str, Any] = dict(callspec.params) if callspec else {}
            self.items.append((check, tuple(marker.args), covered_values(params, marker.kwargs)))


def collect() -> tuple[dict[str, Coverage], list[str]]:
    """The coverage of each rule, and the checks that name no rule."""
    collector = _Collector()
    with contextlib.redirect_stdout(io.StringIO()):  # pytest's count of checks per file
        code = pytest.main(
            [
                str(CHECKS),
                "-p",
                "otaconformance.plugin",
                "-p",
                "no:cacheprovider",
                "--confcutdir",
                str(CHECKS),
                "--collect-only",
                "-qq",
                "--server-url",
                "http://unused.invalid",
            ],
            plugins=[collector],
        )
    if code != 0:
        raise SystemExit(f"collecting the checks failed (pytest exit code {code})")
    return coverage(collector.items), sorted(set(collector.unnamed))


def problems(table: dict[str, Coverage], unnamed: list[str]) -> list[str]:
    return rule_problems(table) + [f"{check}: names no rule" for check in unnamed]


def _cell(values: set[Any], everything: tuple[Any, ...]) -> str:
    if not values:
        return ""
    if set(everything) <= values:
        return "all"
    return ", ".join(str(getattr(v, "value", v)) for v in everything if v in values)


def render(table: dict[str, Coverage], found: list[str]) -> str:
    rules = catalogue()
    lines = [
        "# The rules the conformance suite proves",
        "",
        "<!-- made by `python -m otaconformance.rulestable docs/conformance-rules.md`; "
        "do not edit: edit `conformance/otaconformance/ruledata/` and the checks -->",
        "",
        "Each rule of the wire contract (`thingsboard-ota.md`, by section) and of the user guide "
        "has an id; each check in `conformance/otaconformance/checks/` names the rules it proves, "
        "and a failure names the rule it broke (`[rule ID SOURCE] ...`). A rule about packages "
        "is checked for both types, a rule of the device API on every transport it holds on, a "
        "rule of the REST API for every role it names: a test in CI fails otherwise, or when a "
        "rule has no check.",
        "",
        f"{len(rules)} rules, {len({c for e in table.values() for c in e.checks})} checks. "
        "Columns: the package types, transports and roles the checks cover (`all`: every one).",
        "",
    ]
    if found:
        lines += ["**Not yet covered:**", "", *[f"- {problem}" for problem in found], ""]
    lines += ["## Not rules", "", "| source | why it is not a rule |", "|---|---|"]
    lines += [f"| {source} | {why} |" for source, why in NOT_RULES]
    lines.append("")
    areas: dict[str, list[str]] = {}
    for rule_id in rules:
        areas.setdefault(rule_id.split(".")[0], []).append(rule_id)
    for area, rule_ids in areas.items():
        lines += [
            f"## {area}",
            "",
            "| rule | source | text | checks | types | transports | roles |",
            "|---|---|---|---|---|---|---|",
        ]
        for rule_id in rule_ids:
            one, covers = rules[rule_id], table[rule_id]
            checks = "<br>".join(f"`{c}`" for c in sorted(covers.checks))
            text = one.text.replace("|", "\\|")
            lines.append(
                f"| `{rule_id}` | {one.source} | {text} | {checks} | "
                f"{_cell(covers.kinds, KIND_TYPES)} | {_cell(covers.transports, TRANSPORTS)} | "
                f"{_cell(covers.roles, ROLES)} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m otaconformance.rulestable")
    parser.add_argument("path", type=Path, help="the Markdown file (docs/conformance-rules.md)")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if it is stale or incomplete"
    )
    args = parser.parse_args(argv)
    table, unnamed = collect()
    found = problems(table, unnamed)
    text = render(table, found)
    if not args.check:
        args.path.write_text(text)
    for problem in found:
        print(f"rules: {problem}", file=sys.stderr)
    stale = args.check and (not args.path.exists() or args.path.read_text() != text)
    if stale:
        print(f"rules: {args.path} is stale; run without --check to remake it", file=sys.stderr)
    return 1 if found or stale else 0


if __name__ == "__main__":
    sys.exit(main())
