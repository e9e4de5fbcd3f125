"""The mutants of benchmarks/mutation.py, the file of equivalent mutants and known gaps, and the
report: the kill rate per module, the survivors, the JSON file."""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.mutation_scope import TARGETS

EQUIVALENT_FILE = Path(__file__).with_name("mutation-equivalent.toml")


@dataclass
class Mutant:
    job_id: str
    target: str
    module: str
    operator: str
    occurrence: int
    line: int
    definition: str | None
    original: str  # the source line, stripped
    mutated: str  # the same line in the mutant, stripped
    diff: str
    excluded: str | None = None  # why it is out of scope, if it is
    equivalent: str | None = None  # the reason from mutation-equivalent.toml
    gap: str | None = None  # a known gap of the suite, from the same file
    outcome: str = "pending"  # killed-checks, killed-start, killed-timeout, survived, error
    failed_checks: list[str] = field(default_factory=list)
    first_failure: str = ""
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.module}:{self.line} {self.operator.split('/')[-1]}"


@dataclass(frozen=True)
class Entry:
    """A mutant named in mutation-equivalent.toml: `[[equivalent]]` with its reason, or `[[gap]]`
    with the rule the suite does not check and the check that would kill it."""

    kind: str  # "equivalent" or "gap"
    module: str
    operator: str
    line: str
    mutant: str
    note: str


def load_entries(path: Path) -> list[Entry]:
    """Each entry names its module, operator, source line and mutated line (not the line number,
    so that an entry survives edits elsewhere in the module)."""
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    entries = []
    for kind, note in (("equivalent", "reason"), ("gap", "gap")):
        for item in data.get(kind, []):
            fields = {k: item[k] for k in ("module", "operator", "line", "mutant")}
            entries.append(Entry(kind, **fields, note=item[note]))
    return entries


def mark_entries(mutants: list[Mutant], entries: list[Entry]) -> list[Entry]:
    """Marks the named mutants; returns the entries that match no mutant (stale entries)."""
    unused = []
    for entry in entries:
        found = [
            m
            for m in mutants
            if m.module == entry.module
            and m.operator.split("/")[-1] == entry.operator.split("/")[-1]
            and m.original == entry.line.strip()
            and m.mutated == entry.mutant.strip()
        ]
        for mutant in found:
            if entry.kind == "equivalent":
                mutant.equivalent = entry.note
            else:
                mutant.gap = entry.note
        if not found:
            unused.append(entry)
    return unused


# ---- the report ----------------------------------------------------------------------------

KILLED = ("killed-checks", "killed-start", "killed-timeout")


def summarize(mutants: list[Mutant], names: list[str]) -> dict[str, Any]:
    """Per module and in total. A listed equivalent that a check kills counts as killed (and is
    reported: its entry is wrong); one not run for the deadline still counts as equivalent."""
    rows = {}
    for name in [*names, "total"]:
        chosen = [m for m in mutants if not m.excluded and (name == "total" or m.target == name)]
        counts = Counter(m.outcome for m in chosen)
        killed = sum(counts[o] for o in KILLED)
        equivalent = [m for m in chosen if m.equivalent and m.outcome in ("survived", "pending")]
        surviving = [m for m in chosen if not m.equivalent and m.outcome == "survived"]
        not_run = [m for m in chosen if not m.equivalent and m.outcome == "pending"]
        denominator = killed + len(surviving)
        rows[name] = {
            "generated": len(chosen),
            "killed": killed,
            "killed_checks": counts["killed-checks"],
            "killed_start": counts["killed-start"],
            "killed_timeout": counts["killed-timeout"],
            "equivalent": len(equivalent),
            "equivalent_not_run": sum(m.outcome == "pending" for m in equivalent),
            "equivalent_but_killed": sum(
                bool(m.equivalent) and m.outcome in KILLED for m in chosen
            ),
            "surviving": len(surviving),
            "errors": counts["error"],
            "not_run": len(not_run),
            "kill_rate": round(killed / denominator, 4) if denominator else None,
        }
    return rows


def print_report(
    mutants: list[Mutant],
    names: list[str],
    summary: dict[str, Any],
    stale: list[Entry],
    wall: float,
) -> None:
    print("\n== Mutation testing of the conformance suite (Cosmic Ray operators) ==")
    print("Scope: mutation points in type hints, docstrings, logging and metrics calls, the")
    print("fault-injection hooks (and what runs only under an injected fault), error message")
    print("sentences, and functions outside a module's scope are excluded.")
    excluded = Counter(m.excluded for m in mutants if m.excluded)
    print("Excluded: " + ", ".join(f"{reason} {count}" for reason, count in excluded.items()))
    print("\nChecks run per module (a subset can only under-count kills):")
    for name in names:
        target = TARGETS[name]
        scope = f" [only {', '.join(sorted(target.definitions))}]" if target.definitions else ""
        print(f"  {name:15} {target.module}{scope}: {', '.join(target.checks)}")
    header = (
        f"\n{'module':15} {'gen':>4} {'killed':>6} {'(chk':>5} {'start':>5} {'tmo)':>5} "
        f"{'equiv':>5} {'surv':>4} {'err':>3} {'norun':>5} {'rate':>7}"
    )
    print(header)
    for name, row in summary.items():
        rate = "-" if row["kill_rate"] is None else f"{100 * row['kill_rate']:.1f}%"
        print(
            f"{name:15} {row['generated']:4} {row['killed']:6} {row['killed_checks']:5} "
            f"{row['killed_start']:5} {row['killed_timeout']:5} {row['equivalent']:5} "
            f"{row['surviving']:4} {row['errors']:3} {row['not_run']:5} {rate:>7}"
        )
    print("kill rate = killed / (killed + surv) = killed / (gen - equiv - err - norun)")
    print("gen: in scope (and sampled); killed = chk (a check failed) + start (the server did not")
    print("start) + tmo (the run timed out); equiv: listed in the equivalents file (run last, and")
    print("counted even if the deadline left them unrun); err: the run itself broke (not counted);")
    print("norun: not run, cut by --deadline")
    survivors = [m for m in mutants if not m.excluded and m.outcome == "survived"]
    real = [m for m in survivors if not m.equivalent]
    known = sum(1 for m in real if m.gap)
    print(
        f"\nSurviving mutants ({len(real)}; {known} known gaps, {len(real) - known} unclassified):"
    )
    for mutant in real:
        print(f"\n- {mutant.name} in {mutant.definition or '<module>'}")
        print("  " + mutant.diff.replace("\n", "\n  "))
        print(f"  GAP: {mutant.gap}" if mutant.gap else "  (unclassified: not in the file yet)")
    print("\nSurvivors, one a line:")
    for mutant in real:
        print(f"  {mutant.name}: {mutant.mutated}")
    gaps_killed = [m for m in mutants if m.gap and m.outcome in KILLED]
    for mutant in gaps_killed:
        print(f"NOTE: a listed gap is now killed: {mutant.name} ({mutant.outcome})")
    listed = [m for m in mutants if m.equivalent and m.outcome in ("survived", "pending")]
    if listed:
        print(f"\nEquivalent (listed in {EQUIVALENT_FILE.name}, {len(listed)}):")
        for mutant in listed:
            unrun = " [not run: deadline]" if mutant.outcome == "pending" else ""
            print(f"- {mutant.name}{unrun}: {mutant.original!r} -> {mutant.mutated!r}")
            print(f"    {mutant.equivalent}")
    wrongly = [m for m in mutants if m.equivalent and m.outcome in KILLED]
    for mutant in wrongly:
        print(f"NOTE: listed as equivalent but killed: {mutant.name} ({mutant.outcome})")
    for entry in stale:
        print(
            f"NOTE: stale {entry.kind} entry in {EQUIVALENT_FILE.name}: "
            f"{entry.module} {entry.line!r}"
        )
    errors = [m for m in mutants if m.outcome == "error"]
    for mutant in errors:
        print(f"ERROR (not counted): {mutant.name}: {mutant.first_failure[:300]}")
    print(f"\nWall time: {wall:.0f} s")


def list_mutants(mutants: list[Mutant]) -> None:
    for mutant in mutants:
        state = f"excluded ({mutant.excluded})" if mutant.excluded else "in scope"
        if mutant.equivalent:
            state += " [equivalent]"
        print(f"{mutant.name:60} {state}\n    {mutant.original}\n -> {mutant.mutated}")
    in_scope = [m for m in mutants if not m.excluded]
    print(f"\n{len(in_scope)} mutants in scope, {len(mutants) - len(in_scope)} excluded")
    for name, count in Counter(m.target for m in in_scope).items():
        print(f"  {name}: {count}")


def write_json(
    out: Path,
    argv: list[str] | None,
    worktree: Path,
    names: list[str],
    mutants: list[Mutant],
    reported: list[Mutant],
    wall: float,
) -> None:
    arguments = argv if argv is not None else sys.argv[1:]
    payload = {
        "command": " ".join(["python", "-m", "benchmarks.mutation", *arguments]),
        "worktree": str(worktree),
        "wall_seconds": round(wall),
        "checks": {n: list(TARGETS[n].checks) for n in names},
        "summary": summarize(reported, names),
        "mutants": [asdict(m) for m in reported if not m.excluded],
        "excluded": dict(Counter(m.excluded for m in mutants if m.excluded)),
    }
    (out / "mutation.json").write_text(json.dumps(payload, indent=2))


def _identity(module: str, operator: str, original: str, mutated: str) -> tuple[str, ...]:
    """What names a mutant across runs and edits elsewhere (job ids and line numbers change)."""
    return module, operator, original.strip(), mutated.strip()


def earlier_survivors(mutants: list[Mutant], report: Path) -> list[Mutant]:
    """Those of `mutants` that survived the run of `report` (a mutation.json) unexplained."""
    earlier = json.loads(report.read_text())["mutants"]
    survived = {
        _identity(m["module"], m["operator"], m["original"], m["mutated"])
        for m in earlier
        if m["outcome"] == "survived" and not m["equivalent"]
    }
    found = [
        m for m in mutants if _identity(m.module, m.operator, m.original, m.mutated) in survived
    ]
    print(f"{len(found)} of the {len(survived)} unexplained survivors of {report} are in scope")
    return found
