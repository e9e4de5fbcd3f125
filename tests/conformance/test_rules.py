"""The rules table: made from the rules and the checks, complete, and its guard able to fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from otaconformance.rules import (
    KIND_TYPES,
    MQTT,
    TRANSPORTS,
    Coverage,
    Role,
    Rule,
    Transport,
    broken,
    catalogue,
    covered_values,
    problems,
)
from otaconformance.target import FIRMWARE, SOFTWARE

TABLE = Path(__file__).parents[2] / "docs" / "conformance-rules.md"


def test_the_rules_table_is_current_and_every_rule_is_checked_everywhere_it_holds() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otaconformance.rulestable", "--check", str(TABLE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    text = TABLE.read_text()
    for rule_id in catalogue():
        assert f"| `{rule_id}` |" in text


def test_a_check_covers_what_it_is_parametrized_over_and_what_its_marker_names() -> None:
    got = covered_values(
        {"kind": SOFTWARE, "transport": Transport.COAP, "size": 10},
        {"roles": (Role.NO_TOKEN,), "kinds": ("FIRMWARE",)},
    )
    assert got.kinds == {"FIRMWARE", "SOFTWARE"}
    assert got.transports == {Transport.COAP} and got.roles == {Role.NO_TOKEN}
    assert covered_values({"kind": FIRMWARE}, {}).kinds == {"FIRMWARE"}


def test_the_guard_names_each_rule_checked_on_less_than_it_holds_for() -> None:
    rules = {
        "a.unchecked": Rule("a.unchecked", "§1", "x"),
        "a.one-type": Rule("a.one-type", "§1", "x", kinds=KIND_TYPES),
        "a.mqtt-only": Rule("a.mqtt-only", "§6", "x", transports=TRANSPORTS),
        "a.roles": Rule("a.roles", "§7", "x", roles=(Role.TENANT_ADMIN, Role.EXPIRED_TOKEN)),
        "a.complete": Rule("a.complete", "§6", "x", KIND_TYPES, MQTT),
    }
    table = {
        "a.one-type": Coverage({"c1"}, kinds={"FIRMWARE"}),
        "a.mqtt-only": Coverage({"c2"}, transports=set(MQTT)),
        "a.roles": Coverage({"c3"}, roles={Role.TENANT_ADMIN}),
        "a.complete": Coverage({"c4"}, kinds=set(KIND_TYPES), transports=set(MQTT)),
    }
    assert problems(table, rules) == [
        "a.unchecked: no check",
        "a.one-type: not checked for package types SOFTWARE",
        "a.mqtt-only: not checked for transports HTTP, CoAP",
        "a.roles: not checked for roles expired token",
    ]


def test_a_failure_message_names_the_rule_and_its_source() -> None:
    rule_id, one = next(iter(catalogue().items()))
    assert broken(rule_id, "got 7") == f"[rule {rule_id} {one.source}] {one.text}: got 7"
