"""What benchmarks/mutation.py mutates: the server modules that carry the contract (each with the
checks that exercise it), and within them the code no rule can be about (type hints, logging,
the fault-injection hooks, error sentences), which is left out of the kill rate.

Plain `ast`, no Cosmic Ray: the scope is tested in CI (tests/benchmarks/test_mutation_scope.py).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


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
