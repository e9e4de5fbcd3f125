"""JSON Schemas of the values the API reads, as exact as the checks that read them.

The OpenAPI document is built from these, and schemathesis holds the server to it both ways:
what a schema allows must be accepted, what it refuses must be refused. So each schema here
mirrors one reader of api/body.py or domain/inputs.py, down to which characters Python's
`str.strip()` removes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..domain.inputs import MAX_DECIMAL_DIGITS

JsonDict = dict[str, Any]

# The characters str.isspace() (and so str.strip()) counts as white space: more than JSON
# Schema's \s (U+001C-U+001F, U+0085) and fewer (not U+FEFF), so they are spelled out.
WHITE_SPACE = (
    "\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
NOT_NUL = "[^\\u0000]"
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# ThingsBoard's id of "no entity" (an unassigned device's customer, the sysadmin's tenant).
NULL_UUID_TEXT = "13814000-1dd2-11b2-8080-808080808080"
# The largest integer a query parameter may carry: MAX_DECIMAL_DIGITS nines.
MAX_QUERY_INT = 10**MAX_DECIMAL_DIGITS - 1

UUID: JsonDict = {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}
# Any JSON a client may send (components.schemas.StorableJson): parse_json refuses a NUL in any
# string or key, however deep, so every object the API reads says so of the fields it ignores.
STORABLE: JsonDict = {"$ref": "#/components/schemas/StorableJson"}
KEY: JsonDict = {"pattern": f"^{NOT_NUL}*$"}


def nullable(schema: JsonDict) -> JsonDict:
    """The schema, or null."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    return {"anyOf": [schema, {"type": "null"}]}


def text(max_length: int | None = None, nonblank: bool = False) -> JsonDict:
    """A string a database can store (no NUL); `nonblank` when it must not strip to ""."""
    visible = f"[^\\u0000{WHITE_SPACE}]"
    pattern = f"^{NOT_NUL}*{visible}{NOT_NUL}*$" if nonblank else f"^{NOT_NUL}*$"
    schema: JsonDict = {"type": "string", "pattern": pattern}
    if nonblank:
        schema["minLength"] = 1
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def one_of_words(words: Iterable[str], empty: bool = False) -> JsonDict:
    """A string that is one of `words`; with `empty`, also "" (read as left out)."""
    return {"type": "string", "enum": [*([""] if empty else []), *words]}


def query_integer(minimum: int = 0, maximum: int = MAX_QUERY_INT) -> JsonDict:
    """An integer as body.query_int reads it: ASCII digits, at most MAX_DECIMAL_DIGITS."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def id_of(entity_type: str) -> JsonDict:
    """An id as the server writes it: {"entityType": ..., "id": ...}."""
    return {
        "type": "object",
        "properties": {"entityType": {"const": entity_type}, "id": UUID},
        "required": ["entityType", "id"],
        "additionalProperties": False,
    }


def id_input(entity_type: str) -> JsonDict:
    """An id as Body.entity_id reads it: entityType may be left out, and a null (or absent) id,
    like the null UUID, means no entity."""
    return {
        "type": ["object", "null"],
        "properties": {"entityType": {"enum": [entity_type, None]}, "id": nullable(UUID)},
        "propertyNames": KEY,
        "additionalProperties": STORABLE,
    }


def required_id_input(entity_type: str) -> JsonDict:
    """An id that must name an entity."""
    return {
        "type": "object",
        "properties": {
            "entityType": {"enum": [entity_type, None]},
            "id": {**UUID, "not": {"const": NULL_UUID_TEXT}},
        },
        "required": ["id"],
        "propertyNames": KEY,
        "additionalProperties": STORABLE,
    }


def comma_list(words: Iterable[str]) -> JsonDict:
    """A comma-separated list of `words`, each with optional white space around it, as
    `name.strip() for name in raw.split(",") if name` reads it: empty items are skipped."""
    word = f"[{WHITE_SPACE}]*({'|'.join(words)})[{WHITE_SPACE}]*"
    return {"type": "string", "pattern": f"^({word})?(,({word})?)*$"}
