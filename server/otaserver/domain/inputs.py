"""What clients send, checked once before it goes anywhere: JSON, decimal numbers and texts.

Every transport and the REST API read client input through these functions, so that HTTP, MQTT
and CoAP refuse the same input with the same message, and nothing reaches a database that it
would refuse (SQLite and PostgreSQL would each refuse differently: a NUL character, an unpaired
surrogate or NaN is stored by one and an internal error in the other).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest, PayloadTooLarge

# Digits of the largest decimal that fits a signed 64-bit integer with room to spare.
MAX_DECIMAL_DIGITS = 18


@dataclass(frozen=True)
class InputLimits:
    """The limits of the settings table that bound what one request may carry."""

    max_json_body: int = 1024 * 1024
    max_json_depth: int = 32
    max_keys: int = 1000
    max_name_length: int = 255


def parse_json(raw: bytes | str, limits: InputLimits) -> Any:
    """The JSON value of a request body or payload, or BadRequest/PayloadTooLarge saying why not."""
    if len(raw) > limits.max_json_body:
        raise PayloadTooLarge(f"JSON body is larger than the limit of {limits.max_json_body} bytes")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise BadRequest("Invalid request body: not JSON (not UTF-8)") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep(limits) from None
    except ValueError as error:
        raise BadRequest(f"Invalid request body: not JSON ({error})") from None
    _check_tree(value, limits)
    return value


def _no_constant(name: str) -> Any:
    raise BadRequest(f"Invalid JSON: {name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: a JSON number, but past what a double holds
        raise BadRequest(f"Invalid JSON: {text[:20]} is too large a number")
    return value


def _too_deep(limits: InputLimits) -> BadRequest:
    return BadRequest(f"Invalid JSON: nested deeper than {limits.max_json_depth} levels")


def _check_tree(value: Any, limits: InputLimits) -> None:
    """Depth within the limit and every text (keys too) storable, walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, "a JSON string")
        elif isinstance(item, dict | list):
            if depth >= limits.max_json_depth:
                raise _too_deep(limits)
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key, "a JSON key")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def check_text(value: str, what: str) -> str:
    """The text unchanged, if a database can store it: no NUL, no unpaired surrogate."""
    if "\x00" in value:
        raise BadRequest(f"Invalid text in {what}: it contains a NUL character")
    if not storable(value):
        raise BadRequest(f"Invalid text in {what}: it is not valid Unicode")
    return value


def storable(value: str) -> bool:
    """Whether both databases can store the text."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_name(value: str, what: str, limits: InputLimits) -> str:
    """A name, title, version or similar: storable and within the name length limit."""
    check_text(value, what)
    if len(value) > limits.max_name_length:
        raise BadRequest(f"{what} must be at most {limits.max_name_length} characters long")
    return value


def parse_decimal(text: str) -> int | None:
    """A non-negative decimal of ASCII digits only; None when it has more digits than any
    count or size could need (MAX_DECIMAL_DIGITS). ValueError for anything but digits.

    Python's int() also takes other scripts' digits, signs, spaces and underscores, and fails
    with an error of its own past 4300 digits; device input must be plainer than that.
    """
    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(f"{text[:20]!r} is not a decimal number")
    significant = text.lstrip("0")
    if len(significant) > MAX_DECIMAL_DIGITS:
        return None
    return int(significant or "0")


def check_file_name(name: str, limits: InputLimits) -> str:
    """An uploaded file's name as it is kept and sent back with the data.

    Only the last part of a path is kept (RFC 7578 §4.2: receivers must not use directory
    information); control characters, NUL among them, are refused rather than stored.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in base):
        raise BadRequest("The file name must not contain control characters")
    if base in ("", ".", ".."):
        raise BadRequest(f"{name[:40]!r} is no file name")
    return check_name(base, "The file name", limits)
