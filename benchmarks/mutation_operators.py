"""The mutation operators benchmarks/mutation.py uses: Cosmic Ray's own, one counterpart each, and
ReplaceStringLiteral, ours, registered as Cosmic Ray's "otakit" operator provider on import."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

import cosmic_ray.plugins
import parso
import parso.python.tree
from cosmic_ray.operators.operator import Example, Operator

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
