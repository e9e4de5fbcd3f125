"""The rules the suite proves, as data: each rule of the wire contract (`thingsboard-ota.md`) and
of the user guide has an id, and each check names the rules it proves with `@pytest.mark.rules`.

A rule says what it applies to: the package types (a rule about packages holds for firmware and
software alike), the device transports, the REST roles. A check covers the values it is
parametrized over (a `Kind`, `Transport` or `Role` among its parameters) and those its marker
names for a body that covers them itself (`@pytest.mark.rules("x", kinds=KIND_TYPES)`). The rules
table, `docs/conformance-rules.md`, is made from the rules and the collected checks; `problems()`
says where a rule is not checked on everything it applies to.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

KIND_TYPES = ("FIRMWARE", "SOFTWARE")


class Transport(StrEnum):
    """A device API a rule can hold on."""

    HTTP = "HTTP"
    MQTT3 = "MQTT 3.1.1"
    MQTT5 = "MQTT 5"
    COAP = "CoAP"

    def __str__(self) -> str:  # the id of a parametrized check
        return self.name.lower()


TRANSPORTS = tuple(Transport)
MQTT = (Transport.MQTT3, Transport.MQTT5)


class Role(StrEnum):
    """Who calls the REST API."""

    SYSADMIN = "system administrator"
    TENANT_ADMIN = "tenant administrator"
    OTHER_TENANT_ADMIN = "another tenant's administrator"
    CUSTOMER_USER = "user of the owning customer"
    OTHER_CUSTOMER_USER = "user of another customer"
    NO_TOKEN = "no token"
    EXPIRED_TOKEN = "expired token"

    def __str__(self) -> str:
        return self.name.lower()


ROLES = tuple(Role)


@dataclass(frozen=True)
class Rule:
    id: str  # dotted, area first: "checksum.crc32-le"
    source: str  # where it is written: "§5" of the wire contract, or "guide: Provisioning"
    text: str  # the rule, in one sentence
    kinds: tuple[str, ...] = ()  # the package types it holds for (FIRMWARE, SOFTWARE)
    transports: tuple[Transport, ...] = ()  # the device APIs it holds on
    roles: tuple[Role, ...] = ()  # the REST callers it is about


@cache
def catalogue() -> dict[str, Rule]:
    """Every rule, by id, from the modules of `otaconformance.ruledata` (each has `RULES`)."""
    from . import ruledata

    found: dict[str, Rule] = {}
    for module in pkgutil.iter_modules(ruledata.__path__):
        for one in importlib.import_module(f"{ruledata.__name__}.{module.name}").RULES:
            if one.id in found:
                raise ValueError(f"rule {one.id} is declared twice")
            found[one.id] = one
    return found


def broken(rule_id: str, detail: str = "") -> str:
    """The message of a failed check: which rule broke, and how."""
    found = catalogue().get(rule_id)
    if found is None:
        raise KeyError(f"no rule {rule_id!r} in otaconformance.ruledata")
    return f"[rule {found.id} {found.source}] {found.text}" + (f": {detail}" if detail else "")


@dataclass
class Coverage:
    """What the checks of one rule cover."""

    checks: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    transports: set[Transport] = field(default_factory=set)
    roles: set[Role] = field(default_factory=set)


def covered_values(params: Mapping[str, Any], marker_kwargs: Mapping[str, Any]) -> Coverage:
    """The package types, transports and roles one collected check runs with."""
    found = Coverage()
    values: list[Any] = list(params.values())
    for name in ("kinds", "transports", "roles"):
        values += list(marker_kwargs.get(name, ()))
    for value in values:
        if isinstance(value, Transport):
            found.transports.add(value)
        elif isinstance(value, Role):
            found.roles.add(value)
        elif isinstance(value, str) and value in KIND_TYPES:
            found.kinds.add(value)
        elif isinstance(getattr(value, "type", None), str) and value.type in KIND_TYPES:
            found.kinds.add(value.type)  # a Kind
    return found


def coverage(items: Iterable[tuple[str, tuple[str, ...], Coverage]]) -> dict[str, Coverage]:
    """Per rule id, from (check name, rule ids, what it covers) of each collected check."""
    table = {rule_id: Coverage() for rule_id in catalogue()}
    for check, rule_ids, covers in items:
        for rule_id in rule_ids:
            if rule_id not in table:
                raise KeyError(f"{check} names {rule_id!r}, which is not a rule")
            entry = table[rule_id]
            entry.checks.add(check)
            entry.kinds |= covers.kinds
            entry.transports |= covers.transports
            entry.roles |= covers.roles
    return table


def problems(table: dict[str, Coverage], rules: Mapping[str, Rule] | None = None) -> list[str]:
    """Each rule with no check, or checked on fewer types, transports or roles than it names."""
    found = []
    for rule_id, one in (catalogue() if rules is None else rules).items():
        covers = table.get(rule_id, Coverage())
        if not covers.checks:
            found.append(f"{rule_id}: no check")
            continue
        for what, wanted, got in (
            ("package types", one.kinds, covers.kinds),
            ("transports", one.transports, covers.transports),
            ("roles", one.roles, covers.roles),
        ):
            missing = [str(getattr(value, "value", value)) for value in wanted if value not in got]
            if missing:
                found.append(f"{rule_id}: not checked for {what} {', '.join(missing)}")
    return found
