"""The scope of benchmarks/mutation.py: what it leaves out of the kill rate must be code no rule
can be about, and nothing else, or the rate it prints would flatter the suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.mutation_scope import TARGETS, out_of_scope

REPO = Path(__file__).resolve().parents[2]

# The shapes the target modules have (server/otaserver/domain/ota.py, queue_worker.py, ...).
SOURCE = '''\
from __future__ import annotations


@dataclass(frozen=True)
class Slice:
    size: int

    def __repr__(self) -> str:
        return f"Slice({self.size})"


def chunk(data: bytes, index: int, size: int) -> Payload:
    """Bytes of one chunk."""
    log.info("chunk %d of %d", index, size)
    metrics.chunk_served("http", 0.5)
    start = index if faults.active(Fault.INDEX_AS_OFFSET) else size * index
    if start >= size and faults.active(Fault.NO_EMPTY_PAST_END):
        raise OtaError("past the end")
    if size <= 0:
        raise OtaError(f"size {size} is not positive")
    if index < 0:
        raise OtaError("BAD_INDEX")
    return data[start : start + size]
'''


def reasons(line_marker: str, fragment: str, operator: str = "core/NumberReplacer") -> set[str]:
    """Why a mutation of `fragment`, on the line holding `line_marker`, is out of scope (an
    empty set: it is in scope and counts)."""
    lines = SOURCE.splitlines()
    number = next(i for i, text in enumerate(lines, 1) if line_marker in text)
    column = lines[number - 1].index(fragment)
    start, end = (number, column), (number, column + len(fragment))
    return {span.reason for span in out_of_scope(SOURCE) if span.covers(start, end, operator)}


def test_hints_decorators_repr_logging_and_metrics_are_out_of_scope() -> None:
    assert reasons("def chunk", "int") == {"type hint"}
    assert reasons("def chunk", "Payload") == {"type hint"}
    assert reasons("size: int", "int") == {"type hint"}
    assert reasons("@dataclass", "True") == {"decorator"}
    assert reasons('return f"Slice', "Slice") == {"__repr__"}
    assert reasons("log.info", "chunk %d") == {"logging"}
    assert reasons("metrics.chunk_served", "0.5") == {"metrics"}


def test_what_runs_only_under_an_injected_fault_is_out_of_scope_but_not_its_switch() -> None:
    assert reasons("start = index", "index") == {"runs only with a fault injected"}
    assert reasons("start = index", "Fault.INDEX_AS_OFFSET") == {"fault-injection hook"}
    # `size * index` runs on every request: in scope.
    assert reasons("start = index", "size * index") == set()
    assert "runs only with a fault injected" in reasons("if start >= size", "start >= size")
    # Turning the fault's branch on for everyone (`and` into `or`) is a real bug: in scope.
    assert reasons("if start >= size", "and", "core/ReplaceAndWithOr") == set()
    # A `not` binds to the first operand only: the branch still needs the fault.
    assert reasons("if start >= size", "start", "core/AddNot") == {
        "runs only with a fault injected"
    }
    assert reasons("past the end", "past the end") >= {"runs only with a fault injected"}


def test_an_errors_sentence_is_out_of_scope_its_code_and_its_test_are_not() -> None:
    assert reasons("is not positive", "is not positive") == {"error message text"}
    assert reasons("if size <= 0", "<=", "core/ReplaceComparisonOperator_LtE_Lt") == set()
    assert reasons("if size <= 0", "0") == set()
    assert reasons("BAD_INDEX", "BAD_INDEX", "otakit/ReplaceStringLiteral") == set()
    assert reasons("return data", "start + size", "core/ReplaceBinaryOperator_Add_Sub") == set()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_target_names_a_real_module_and_real_checks(name: str) -> None:
    """A module renamed or a check file moved would leave the benchmark mutating nothing."""
    target = TARGETS[name]
    module = REPO / "server" / target.module
    assert module.is_file(), module
    checks = REPO / "conformance" / "otaconformance" / "checks"
    assert target.checks and all((checks / check).is_file() for check in target.checks)
    if target.definitions is not None:
        source = module.read_text()
        named = target.definitions - {"<module>"}
        assert all(f"def {d}(" in source or f"class {d}" in source for d in named), named
