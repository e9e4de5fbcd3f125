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
import ast
import contextlib
import json
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
import tomllib
import uuid
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cosmic_ray.plugins
import parso
import parso.python.tree
from cosmic_ray.ast import ast_nodes, get_ast_from_path
from cosmic_ray.ast.ast_query import ASTQuery
from cosmic_ray.mutating import mutate_code, use_mutation
from cosmic_ray.operators.operator import Example, Operator
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import (
    MutationSpec,
    TestOutcome,
    WorkerOutcome,
    WorkItem,
    WorkResult,
)

REPO = Path(__file__).resolve().parent.parent
CHECKS = Path("conformance/otaconformance/checks")
EQUIVALENT_FILE = Path(__file__).with_name("mutation-equivalent.toml")
# A clean, unmutated run of the chosen checks takes about 5 to 40 s here; a hung server
# (a mutant that loops) is cut off at this many seconds and counts as killed by timeout.
DEFAULT_TIMEOUT = 240.0


@dataclass(frozen=True)
class Target:
    """A server module to mutate, the checks that exercise it, and which of its code is in scope.

    `definitions`: only the mutation points inside these functions or classes ("<module>": the
    module-level code, its tables and patterns); None: the whole module. `outside`: source lines
    (a regular expression searched in the line) that carry no rule of the contract, with why.
    """

    module: str  # path under server/
    checks: tuple[str, ...]  # check files under conformance/otaconformance/checks
    why: str
    definitions: frozenset[str] | None = None
    outside: tuple[tuple[str, str], ...] = ()


# The modules where the wire rules live, each with the check files that exercise it. A subset of
# the suite can only under-count kills.
TARGETS: dict[str, Target] = {
    "ota": Target(
        "otaserver/domain/ota.py",
        ("test_attributes.py", "test_chunks.py"),
        "§2.1 attribute keys and the announcement, chunk slicing",
    ),
    "checksums": Target(
        "otaserver/domain/checksums.py",
        ("test_checksums.py", "test_packages.py"),
        "§5 checksum text, checksum algorithm and supplied checksum validation",
    ),
    "rules": Target(
        "otaserver/domain/rules.py",
        ("test_assignment.py", "test_packages.py", "test_isolation.py", "test_checksums.py"),
        "§4.1 effective package, §4.5 package constraints and assignability",
        outside=(
            (
                r"^MAX_TOKEN_LENGTH",
                "device access-token length (services/devices.py): credentials, not an OTA rule",
            ),
        ),
    ),
    "queue": Target(
        "otaserver/services/queue_worker.py",
        ("test_queue.py",),
        "§4.4 the queue's stale check and the retry of a device that already reported",
        frozenset({"_stale", "_reported_since"}),
    ),
    "assignment": Target(
        "otaserver/services/assignment.py",
        ("test_assignment.py", "test_audit.py", "test_queue.py"),
        "§4.2/§4.5 which assignment changes count and are validated, and their audit entries",
    ),
    "mqtt_topics": Target(
        "otaserver/transports/mqtt/topics.py",
        ("test_chunks.py", "test_attributes.py", "test_errors.py", "test_statuses.py"),
        "§6.2 MQTT topics: chunk requests and their responses, attribute requests, telemetry, "
        "the filters a device may subscribe to",
        frozenset({"<module>", "chunk_request", "attribute_request_id", "response_topic"}),
        outside=((r"RPC_PREFIX", "RPC topics: not part of the OTA contract"),),
    ),
    "mqtt_downloads": Target(
        "otaserver/transports/mqtt/downloads.py",
        ("test_chunks.py", "test_errors.py"),
        "§6.2 MQTT chunk size payload and the request id bound to its package",
        frozenset({"parse_chunk_size", "get", "put"}),
    ),
    "coap_params": Target(
        "otaserver/transports/coap_request.py",
        ("test_chunks.py", "test_errors.py", "test_attributes.py"),
        "§6.4 CoAP download parameters, token and attribute keys",
        frozenset({"query", "_decimal", "chunk_size", "chunk_index", "device_token", "keys"}),
    ),
    "http_chunks": Target(
        "otaserver/transports/http_chunks.py",
        ("test_chunks.py", "test_errors.py"),
        "§6.3 HTTP chunk download parameters (the fast path)",
        frozenset({"_answer", "_query"}),
    ),
}

# The operators used (Cosmic Ray's names). For binary and comparison operators Cosmic Ray makes
# every replacement (each `+` into 11 others); one natural counterpart per operator and the
# negation/boundary of each comparison find the same gaps at a fraction of the runs.
OPERATORS: tuple[str, ...] = (
    *(
        f"core/ReplaceBinaryOperator_{pair}"
        for pair in (
            "Add_Sub",
            "Sub_Add",
            "Mul_Div",
            "Div_Mul",
            "FloorDiv_Mul",
            "Mod_FloorDiv",
            "Pow_Mul",
            "LShift_RShift",
            "RShift_LShift",
            "BitAnd_BitOr",
            "BitOr_BitAnd",
            "BitXor_BitOr",
        )
    ),
    *(
        f"core/ReplaceComparisonOperator_{pair}"
        for pair in (
            "Eq_NotEq",
            "NotEq_Eq",
            "Lt_LtE",
            "Lt_GtE",
            "LtE_Lt",
            "LtE_Gt",
            "Gt_GtE",
            "Gt_LtE",
            "GtE_Gt",
            "GtE_Lt",
            "Is_IsNot",
            "IsNot_Is",
        )
    ),
    "core/ReplaceUnaryOperator_USub_UAdd",
    "core/ReplaceUnaryOperator_Delete_Not",
    "core/AddNot",
    "core/ReplaceTrueWithFalse",
    "core/ReplaceFalseWithTrue",
    "core/ReplaceAndWithOr",
    "core/ReplaceOrWithAnd",
    "core/ReplaceBreakWithContinue",
    "core/ReplaceContinueWithBreak",
    "core/ExceptionReplacer",
    "core/NumberReplacer",
    "core/ZeroIterationForLoop",
    # Ours (below): wire keys, topics and codes are strings; Cosmic Ray's core has no operator
    # for them. RemoveDecorator is left out: here it only removes @dataclass or @property, which
    # breaks the import or the first call, never a rule.
    "otakit/ReplaceStringLiteral",
)


class ReplaceStringLiteral(Operator):  # type: ignore[misc]
    """A string literal, or the literal text of an f-string, gets "XX" around it.

    Docstrings and other lone string statements are left alone; so is an f-string's format spec.
    """

    def mutation_positions(self, node: Any) -> Iterator[tuple[tuple[int, int], tuple[int, int]]]:
        literal = node.type == "string" and not _lone_string(node)
        fstring_text = node.type == "fstring_string" and node.parent.type != "fstring_format_spec"
        if literal or fstring_text:
            yield node.start_pos, node.end_pos

    def mutate(self, node: Any, index: int) -> Any:
        assert index == 0
        if node.type == "fstring_string":
            return parso.python.tree.FStringString("XX" + node.value + "XX", node.start_pos)
        match = re.fullmatch(r"([a-zA-Z]*)(\'\'\'|\"\"\"|\'|\")(.*)", node.value, re.DOTALL)
        assert match is not None, node.value
        prefix, quote, rest = match.groups()
        return parso.python.tree.String(f"{prefix}{quote}XX{rest}", node.start_pos, node.prefix)

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (Example('x = "fw"', 'x = "XXfw"'), Example('f"{a}_title"', 'f"{a}XX_titleXX"'))


def _lone_string(node: Any) -> bool:
    """A docstring or another string that is a statement of its own."""
    parent = node.parent
    if parent.type == "strings":
        parent = parent.parent
    return bool(parent.type == "simple_stmt")


class OtakitOperators:
    """A Cosmic Ray operator provider (the plugin interface its own `core` provider has)."""

    _OPERATORS: ClassVar[dict[str, type[Operator]]] = {"ReplaceStringLiteral": ReplaceStringLiteral}

    def __iter__(self) -> Iterator[str]:
        return iter(self._OPERATORS)

    def __getitem__(self, name: str) -> type[Operator]:
        return self._OPERATORS[name]


# Registered in this process, where every mutant is generated and applied.
cosmic_ray.plugins.OPERATOR_PROVIDERS.setdefault("otakit", OtakitOperators())


# ---- what is out of scope: code that cannot break a rule --------------------------------------


@dataclass(frozen=True)
class Span:
    start: tuple[int, int]
    end: tuple[int, int]
    reason: str
    only: str | None = None  # the one operator it excludes; None: every operator

    def covers(self, start: tuple[int, int], end: tuple[int, int], operator: str) -> bool:
        applies = self.only is None or operator == self.only
        return applies and self.start <= start and end <= self.end


def _span(node: ast.AST, reason: str, only: str | None = None) -> Span:
    end_line = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
    end_col = getattr(node, "end_col_offset", None)
    return Span(
        (node.lineno, node.col_offset),  # type: ignore[attr-defined]
        (end_line, end_col if end_col is not None else 10**6),
        reason,
        only,
    )


def _is_fault_call(node: ast.AST) -> bool:
    """`faults.active(...)` or `faults.any_active()`: the fault-injection hooks."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "faults"
    )


def _fault_conjunction(test: ast.AST) -> bool:
    """An `and` with a fault hook among its operands: False whenever no fault is injected."""
    return _is_fault_call(test) or (
        isinstance(test, ast.BoolOp)
        and isinstance(test.op, ast.And)
        and any(_is_fault_call(value) for value in test.values)
    )


def out_of_scope(source: str) -> list[Span]:
    """The spans of the module that no rule can be about, each with why.

    - type hints (`from __future__ import annotations`: never evaluated), docstrings, decorators
      (@dataclass options, @property) and `__repr__`;
    - logging and metrics calls (what a server logs or counts is not in the contract);
    - the fault-injection hooks (server/otaserver/domain/faults.py): the hook itself and what runs
      only while a fault is injected (the suite's own tests inject them). A mutation that turns a
      fault's behaviour on for everyone (`and` into `or`, a `not` added) stays in scope.
    """
    spans: list[Span] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            # @dataclass(frozen=True), @property: structure, no rule.
            spans += [_span(decorator, "decorator") for decorator in node.decorator_list]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            spans += [_span(a.annotation, "type hint") for a in every if a.annotation]
            if node.returns is not None:
                spans.append(_span(node.returns, "type hint"))
            if node.name == "__repr__":
                spans.append(_span(node, "__repr__"))
        if isinstance(node, ast.AnnAssign):
            spans.append(_span(node.annotation, "type hint"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if name in ("log", "logger", "logging"):
                spans.append(_span(node, "logging"))
            elif name == "metrics":
                spans.append(_span(node, "metrics"))
        if _is_fault_call(node):
            spans.append(_span(node, "fault-injection hook"))
        if isinstance(node, ast.If) and _fault_conjunction(node.test):
            spans += [
                _span(statement, "runs only with a fault injected") for statement in node.body
            ]
            if isinstance(node.test, ast.BoolOp):
                spans += [
                    _span(value, "runs only with a fault injected") for value in node.test.values
                ]
                # `not` binds to the first operand: the test stays False without a fault.
                spans.append(_span(node.test, "runs only with a fault injected", "core/AddNot"))
        if isinstance(node, ast.IfExp) and _fault_conjunction(node.test):
            spans.append(_span(node.body, "runs only with a fault injected"))
        if isinstance(node, ast.Raise) and node.exc is not None:
            # The human sentence of an error: the contract fixes the status (and, on MQTT, the
            # error code, a single word, which stays in scope); the spec's messages are examples.
            for inner in ast.walk(node.exc):
                if isinstance(inner, ast.JoinedStr) or (
                    isinstance(inner, ast.Constant)
                    and isinstance(inner.value, str)
                    and " " in inner.value
                ):
                    spans.append(_span(inner, "error message text"))
    return spans


# ---- mutants -------------------------------------------------------------------------------


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
