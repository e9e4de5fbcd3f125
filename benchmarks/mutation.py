"""Mutation testing of the conformance suite against the server modules that carry the contract.

Cosmic Ray (its operators, its parso-based mutation and its SQLite session) makes the mutants of a
few small server modules, where the wire rules live; each mutant is written into a private copy
of `server/`, and the conformance suite runs against a server started from that copy
(`python -m otaserver.cli conformance --start-local -- CHECKS -x`, with PYTHONPATH on the copy).
A mutant is killed when the checks fail, when the server does not start, or when the run times
out; it survives when every check passes. Mutants judged equivalent are listed, with the reason,
in benchmarks/mutation-equivalent.toml.

    python -m benchmarks.mutation [--modules ota,rules] [--jobs 2] [--timeout 240]
        [--limit N] [--list] [--out DIR]

Slow (minutes to tens of minutes): not part of CI. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cosmic_ray.plugins
from cosmic_ray.ast import ast_nodes, get_ast_from_path
from cosmic_ray.ast.ast_query import ASTQuery
from cosmic_ray.mutating import mutate_code, use_mutation
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import (
    MutationSpec,
    TestOutcome,
    WorkerOutcome,
    WorkItem,
    WorkResult,
)

# Importing the operators registers ours with Cosmic Ray (its "otakit" provider).
from benchmarks.mutation_operators import OPERATORS
from benchmarks.mutation_results import (
    EQUIVALENT_FILE,
    Mutant,
    earlier_survivors,
    list_mutants,
    load_entries,
    mark_entries,
    print_report,
    summarize,
    write_json,
)
from benchmarks.mutation_scope import TARGETS, out_of_scope

REPO = Path(__file__).resolve().parent.parent
CHECKS = Path("conformance/otaconformance/checks")
# A clean, unmutated run of the chosen checks takes about 5 to 40 s here; a hung server
# (a mutant that loops) is cut off at this many seconds and counts as killed by timeout.
DEFAULT_TIMEOUT = 240.0


# ---- mutants -------------------------------------------------------------------------------


def _changed_line(original: str, mutated: str, line: int) -> str:
    """The mutant's text of `line` (a mutation may join or split lines; one line is enough)."""
    before, after = original.splitlines(), mutated.splitlines()
    shift = len(after) - len(before)
    index = min(max(line - 1, 0), len(after) - 1)
    if shift == 0 or after[index].strip() != before[line - 1].strip():
        return after[index].strip()
    return " ".join(text.strip() for text in after[index : index + shift + 1])


def _diff(original: str, mutated: str, path: str) -> str:
    import difflib

    lines = difflib.unified_diff(
        original.splitlines(), mutated.splitlines(), f"a/{path}", f"b/{path}", lineterm="", n=1
    )
    return "\n".join(lines)


def generate(root: Path, names: Iterable[str], work_db: WorkDB) -> list[Mutant]:
    """Every mutant of the targets' modules under `root` (a pristine copy), into the session.

    The occurrence numbering is Cosmic Ray's: per operator, in walk order over the whole module.
    """
    mutants: list[Mutant] = []
    for name in names:
        target = TARGETS[name]
        path = root / target.module
        source = path.read_text()
        lines = source.splitlines()
        spans = out_of_scope(source)
        tree = get_ast_from_path(path)
        for operator_name in OPERATORS:
            operator = cosmic_ray.plugins.get_operator(operator_name)()
            positions = (
                (node, start, end)
                for node in ast_nodes(tree)
                for start, end in operator.mutation_positions(node)
            )
            for occurrence, (node, start, end) in enumerate(positions):
                definition = ASTQuery(node).get_definition_name()
                spec = MutationSpec(
                    module_path=str(path),
                    operator_name=operator_name,
                    occurrence=occurrence,
                    start_pos=start,
                    end_pos=end,
                    definition_name=definition,
                )
                item = WorkItem.single(uuid.uuid4().hex, spec)
                work_db.add_work_item(item)
                mutated = mutate_code(source, operator, occurrence)
                excluded = next(
                    (s.reason for s in spans if s.covers(start, end, operator_name)), None
                )
                if (
                    target.definitions is not None
                    and (definition or "<module>") not in target.definitions
                ):
                    excluded = excluded or "outside the functions in scope"
                line_text = lines[start[0] - 1]
                for pattern, reason in target.outside:
                    if re.search(pattern, line_text):
                        excluded = excluded or reason
                if mutated is None or mutated == source:
                    excluded = excluded or "no change"
                mutants.append(
                    Mutant(
                        job_id=item.job_id,
                        target=name,
                        module=target.module,
                        operator=operator_name,
                        occurrence=occurrence,
                        line=start[0],
                        definition=definition,
                        original=lines[start[0] - 1].strip(),
                        mutated=_changed_line(source, mutated or source, start[0]),
                        diff=_diff(source, mutated or source, target.module),
                        excluded=excluded,
                    )
                )
    skipped = [m.job_id for m in mutants if m.excluded]
    if skipped:
        # As Cosmic Ray's own filters do (cr-filter-operators, cr-filter-pragma).
        work_db.set_multiple_results(
            skipped, WorkResult(output="out of scope", worker_outcome=WorkerOutcome.SKIPPED)
        )
    return mutants


# ---- running the suite against a mutant ----------------------------------------------------


@dataclass
class Slot:
    """A private copy of server/ for one job at a time."""

    root: Path  # holds server/ and tmp/

    @property
    def server(self) -> Path:
        return self.root / "server"


def copy_server(source: Path, destination: Path) -> None:
    shutil.copytree(
        source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    )


def suite_env(slot: Slot, worktree: Path) -> dict[str, str]:
    paths = [slot.server, *(worktree / p for p in ("client", "conformance", "simulator"))]
    paths += [worktree / "loadtests"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTAKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the slot keeps its bytecode: see forget_bytecode
    # The local server's data directories go into the slot, removed with it.
    env["TMPDIR"] = str(slot.root / "tmp")
    return env


@dataclass
class RunResult:
    outcome: str
    failed: list[str]
    first_failure: str
    seconds: float
    output: str


def run_suite(
    slot: Slot, worktree: Path, checks: Iterable[str], timeout: float, stop_first: bool = True
) -> RunResult:
    """The suite against the server in `slot`: survived (all passed), killed-checks,
    killed-start (the server did not start), killed-timeout, or error (the suite itself broke)."""
    tmp = slot.root / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    report = slot.root / "junit.xml"
    report.unlink(missing_ok=True)
    command = [
        sys.executable,
        *("-m", "otaserver.cli", "conformance", "--start-local", "--no-shrink"),
        *("--junitxml", str(report), "--"),
        *(str(worktree / CHECKS / check) for check in checks),
        *(["-x"] if stop_first else []),
        *("-p", "no:randomly"),
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=worktree,
        env=suite_env(slot, worktree),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the suite and the server it starts: one group to kill
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        text = output.decode(errors="replace")
        return RunResult("killed-timeout", [], "", time.monotonic() - started, text)
    finally:
        # Whatever it left (a server whose suite died): the whole group goes.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    seconds = time.monotonic() - started
    text = output.decode(errors="replace")
    failed, first, not_started = _read_report(report)
    if process.returncode == 0 and not failed:
        return RunResult("survived", [], "", seconds, text)
    if not_started or "otakit did not start" in text:
        return RunResult("killed-start", failed, first, seconds, text)
    if process.returncode == 1 and failed:
        return RunResult("killed-checks", failed, first, seconds, text)
    return RunResult("error", failed, first or text[-500:], seconds, text)


def _read_report(report: Path) -> tuple[list[str], str, bool]:
    """The failed checks (file::name), the first failure's first line, and whether the local
    server failed to start."""
    if not report.exists():
        return [], "", False
    try:
        root = ElementTree.parse(report).getroot()
    except ElementTree.ParseError:
        return [], "", False
    failed, first, not_started = [], "", False
    for case in root.iter("testcase"):
        for problem in (*case.findall("failure"), *case.findall("error")):
            message = problem.get("message") or (problem.text or "")
            if "otakit did not start" in message or "otakit did not start" in (problem.text or ""):
                not_started = True
            module = (case.get("classname") or "").rsplit(".", 1)[-1]
            failed.append(f"{module}::{case.get('name')}")
            first = first or message.strip().splitlines()[0][:200] if message.strip() else first
    return failed, first, not_started


def forget_bytecode(module: Path) -> None:
    """Removes the module's cached bytecode. A mutant written within the second of the original,
    with the same size, would otherwise run the original's bytecode (or the reverse after the
    restore); every other module of the slot keeps its cache, which saves seconds per start."""
    for cached in (module.parent / "__pycache__").glob(f"{module.stem}.*.pyc"):
        cached.unlink(missing_ok=True)


def run_mutant(mutant: Mutant, slot: Slot, worktree: Path, timeout: float) -> None:
    target = TARGETS[mutant.target]
    path = slot.server / target.module
    operator = cosmic_ray.plugins.get_operator(mutant.operator)()
    try:
        with use_mutation(path, operator, mutant.occurrence) as (_, mutated):
            if mutated is None:
                mutant.outcome, mutant.first_failure = "error", "the mutation could not be applied"
                return
            forget_bytecode(path)
            result = run_suite(slot, worktree, target.checks, timeout)
    finally:
        forget_bytecode(path)
    mutant.outcome = result.outcome
    mutant.failed_checks = result.failed[:5]
    mutant.first_failure = result.first_failure
    mutant.seconds = round(result.seconds, 1)


def record(work_db: WorkDB, mutant: Mutant) -> None:
    """The result in Cosmic Ray's session too, so that its `cr-report` reads it."""
    if mutant.outcome == "error":
        result = WorkResult(
            worker_outcome=WorkerOutcome.EXCEPTION,
            test_outcome=TestOutcome.INCOMPETENT,
            output=mutant.first_failure,
            diff=mutant.diff,
        )
    else:
        result = WorkResult(
            worker_outcome=WorkerOutcome.NORMAL,
            test_outcome=TestOutcome.SURVIVED
            if mutant.outcome == "survived"
            else TestOutcome.KILLED,
            output=f"{mutant.outcome}: {mutant.first_failure}",
            diff=mutant.diff,
        )
    work_db.set_result(mutant.job_id, result)


def _deadline(text: str | None) -> float | None:
    """HH:MM UTC today (or tomorrow, if already past) as a time.time() value."""
    if not text:
        return None
    hours, minutes = (int(part) for part in text.split(":"))
    now = time.time()
    today = now - now % 86400
    moment = today + hours * 3600 + minutes * 60
    return moment if moment > now else moment + 86400


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", help=f"comma-separated, of: {', '.join(TARGETS)}")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per run")
    parser.add_argument("--list", action="store_true", help="generate and list the mutants only")
    parser.add_argument("--limit", type=int, help="run a random sample of N mutants (quick)")
    parser.add_argument("--seed", type=int, default=16, help="the sample's seed")
    parser.add_argument(
        "--out", type=Path, help="where mutation.json and Cosmic Ray's session.sqlite go"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    parser.add_argument(
        "--survivors-of",
        type=Path,
        help="an earlier mutation.json: run only the mutants that survived it and are not listed "
        "as equivalent (to try new checks quickly; its rate is of those mutants alone)",
    )
    parser.add_argument(
        "--deadline",
        help="HH:MM (UTC): start no mutant after it; the rest are reported as not run",
    )
    parser.add_argument(
        "--worktree", type=Path, default=REPO, help="the checkout whose server and checks are used"
    )
    args = parser.parse_args(argv)
    names = args.modules.split(",") if args.modules else list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown modules {unknown}; known: {', '.join(TARGETS)}")
    worktree = args.worktree.resolve()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or Path(tempfile.gettempdir()) / f"otakit-mutation-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="otakit-mutation-") as scratch:
        pristine = Path(scratch) / "pristine"
        copy_server(worktree / "server", pristine / "server")
        session = out / "session.sqlite"
        session.unlink(missing_ok=True)
        with use_db(str(session), WorkDB.Mode.create) as work_db:
            mutants = generate(pristine / "server", names, work_db)
            modules = {TARGETS[name].module for name in names}
            entries = [e for e in load_entries(EQUIVALENT_FILE) if e.module in modules]
            stale = mark_entries(mutants, entries)
            if args.list:
                list_mutants(mutants)
                return 0
            chosen = [m for m in mutants if not m.excluded]
            if args.survivors_of is not None:
                chosen = earlier_survivors(chosen, args.survivors_of)
            if args.limit is not None:
                chosen = random.Random(args.seed).sample(chosen, min(args.limit, len(chosen)))
            # Module by module, in the order given, so a deadline cuts the last modules; the mutants
            # listed as equivalent go last (out of the rate either way; run, they show whether a
            # check now kills one, which would make its entry wrong).
            chosen.sort(key=lambda m: (m.equivalent is not None, names.index(m.target), m.line))
            slots = []
            for number in range(max(1, args.jobs)):
                slot = Slot(Path(scratch) / f"slot{number}")
                copy_server(worktree / "server", slot.server)
                slots.append(slot)
            if not args.no_baseline:
                checks = sorted({c for n in names for c in TARGETS[n].checks})
                print(f"Baseline: the unmutated server against {', '.join(checks)} ...", flush=True)
                baseline = run_suite(slots[0], worktree, checks, args.timeout * 2, False)
                verdict = "passed" if baseline.outcome == "survived" else baseline.outcome
                print(f"  {verdict} in {baseline.seconds:.0f} s", flush=True)
                if baseline.outcome != "survived":
                    print(baseline.output[-3000:])
                    print("The unmutated server fails: no mutant result would mean anything.")
                    return 2
            print(f"Running {len(chosen)} mutants, {len(slots)} at a time ...", flush=True)
            free: list[Slot] = list(slots)
            lock = threading.Lock()

            deadline = _deadline(args.deadline)

            def work(mutant: Mutant) -> Mutant:
                if deadline is not None and time.time() > deadline:
                    return mutant  # left pending: reported as not run
                with lock:
                    slot = free.pop()
                try:
                    run_mutant(mutant, slot, worktree, args.timeout)
                finally:
                    with lock:
                        free.append(slot)
                return mutant

            with ThreadPoolExecutor(len(slots)) as pool:
                futures = [pool.submit(work, mutant) for mutant in chosen]
                for done, future in enumerate(as_completed(futures), 1):
                    mutant = future.result()
                    if mutant.outcome != "pending":
                        record(work_db, mutant)  # here: the session's SQLite is this thread's
                    if done % 10 == 0:  # a run cut short still leaves its results
                        partial = [m for m in mutants if m.excluded or m.outcome != "pending"]
                        wall = time.monotonic() - started
                        write_json(out, argv, worktree, names, mutants, partial, wall)
                    print(
                        f"[{done}/{len(chosen)}] {mutant.name}: {mutant.outcome} "
                        f"({mutant.seconds:.0f} s) {mutant.first_failure[:100]}",
                        flush=True,
                    )
            wall = time.monotonic() - started
            ran = {m.job_id for m in chosen}
            reported = [m for m in mutants if m.excluded or m.job_id in ran]
            summary = summarize(reported, names)
            print_report(reported, names, summary, stale, wall)
            write_json(out, argv, worktree, names, mutants, reported, wall)
            print(f"JSON report: {out / 'mutation.json'}; Cosmic Ray session: {session}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
