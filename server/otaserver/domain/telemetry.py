"""Device data as ThingsBoard's device API carries it: telemetry points and attributes.

Parsing is pure: the caller passes the current time for points that carry none.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import BadRequest

JsonValue = Any


class AttributeScope(StrEnum):
    """ThingsBoard's attribute scopes; devices write CLIENT, users SHARED and SERVER."""

    CLIENT_SCOPE = "CLIENT_SCOPE"
    SHARED_SCOPE = "SHARED_SCOPE"
    SERVER_SCOPE = "SERVER_SCOPE"


@dataclass(frozen=True)
class TelemetryPoint:
    key: str
    ts: int
    value: JsonValue


@dataclass(frozen=True)
class Attribute:
    key: str
    value: JsonValue
    last_update_ts: int


MAX_KEY_LENGTH = 255
# The latest `ts` a BIGINT column holds.
MAX_TS = 2**63 - 1


def _check_values(values: object) -> dict[str, JsonValue]:
    if not isinstance(values, dict):
        raise BadRequest("Telemetry values must be a JSON object of key-value pairs")
    for key in values:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise BadRequest(f"Telemetry key must be 1 to {MAX_KEY_LENGTH} characters")
    return values


def _points_of(entry: object, now_ms: int) -> list[TelemetryPoint]:
    if isinstance(entry, dict) and "ts" in entry and "values" in entry:
        ts = entry["ts"]
        # 1.7e12 is an integer to JSON (and to ThingsBoard), if not to Python's parser.
        if isinstance(ts, float) and ts.is_integer():
            ts = int(ts)
        if not isinstance(ts, int) or isinstance(ts, bool) or not 0 <= ts <= MAX_TS:
            raise BadRequest("Telemetry 'ts' must be milliseconds since the epoch")
        values = _check_values(entry["values"])
    else:
        ts, values = now_ms, _check_values(entry)
    # ThingsBoard drops null values rather than storing them (its SDK sends some).
    return [TelemetryPoint(key, ts, value) for key, value in values.items() if value is not None]


def parse_telemetry(payload: object, now_ms: int, max_values: int) -> list[TelemetryPoint]:
    """A flat object, `{"ts": ..., "values": {...}}`, or an array of either.

    At most `max_values` values in all: each becomes a row, and one message must not turn into
    more rows than a database statement takes.
    """
    entries = payload if isinstance(payload, list) else [payload]
    if len(entries) > max_values:
        raise _too_many(max_values)
    points = [point for entry in entries for point in _points_of(entry, now_ms)]
    if len(points) > max_values:
        raise _too_many(max_values)
    return points


def parse_attributes(payload: object, max_values: int) -> dict[str, JsonValue]:
    values = _check_values(payload)
    if len(values) > max_values:
        raise _too_many(max_values)
    return values


def _too_many(limit: int) -> BadRequest:
    return BadRequest(f"At most {limit} telemetry values or attributes fit in one message")


def split_keys(*raw: str | None, limit: int) -> list[str] | None:
    """Keys from comma lists (and repeated parameters); None when none was given at all."""
    given = [part for part in raw if part is not None]
    if not given:
        return None
    keys = [key.strip() for part in given for key in part.split(",") if key.strip()]
    if len(keys) > limit:
        raise BadRequest(f"At most {limit} keys may be asked for at once")
    return keys
