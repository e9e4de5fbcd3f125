"""What a CoAP request carries, read strictly: its options, query parameters, token and keys.

Whatever reaches the database must be storable there (no NUL: PostgreSQL refuses it where SQLite
takes it), and numbers are ASCII digits of a sane length, so that a stranger's odd request gets a
4.xx answer, never 5.00, on either database.
"""

from __future__ import annotations

import aiocoap
from aiocoap.numbers.codes import Code

from ..domain.errors import BadRequest, Unauthorized
from ..domain.inputs import MAX_DECIMAL_DIGITS, check_text, parse_decimal
from ..domain.telemetry import split_keys
from ..services.device_api import BAD_TOKEN

PROXY_URI, PROXY_SCHEME = 35, 39
# The options this server reads or may safely ignore, with the length range of their values
# (RFC 7252 §5.10, RFC 7641, RFC 7959, RFC 7967). An odd (critical) option that is not here, or
# one whose value is out of range, makes the request one we do not understand (§5.4.1, §5.4.3).
OPTION_LENGTHS = {
    3: (1, 255),  # Uri-Host
    6: (0, 3),  # Observe
    7: (0, 2),  # Uri-Port
    11: (0, 255),  # Uri-Path
    12: (0, 2),  # Content-Format
    15: (0, 255),  # Uri-Query
    17: (0, 2),  # Accept
    23: (0, 3),  # Block2
    27: (0, 3),  # Block1
    28: (0, 4),  # Size2
    60: (0, 4),  # Size1
    258: (0, 1),  # No-Response
}
RESERVED_SZX = 7  # BERT, TCP only (RFC 8323); RFC 7959 §2.2 wants 4.00 for it on UDP
# A chunk index past any end: chunk_range answers it with no bytes, as past the end.
PAST_THE_END = 10**MAX_DECIMAL_DIGITS


def option_problem(request: aiocoap.Message) -> tuple[Code, str] | None:
    """The answer to a request with options it must not be served with, or None."""
    for option in request.opt.option_list():
        number = int(option.number)
        if number in (PROXY_URI, PROXY_SCHEME):
            return Code.PROXYING_NOT_SUPPORTED, "This server is not a proxy"
        limits = OPTION_LENGTHS.get(number)
        if limits is None:
            if number % 2:
                return Code.BAD_OPTION, f"Option {number} is not supported"
            continue
        low, high = limits
        if not low <= len(option.encode()) <= high and number % 2:
            return Code.BAD_OPTION, f"Option {number} must be {low} to {high} bytes long"
    block1, block2 = request.opt.block1, request.opt.block2
    if block1 is not None and (block1.block_number or block1.more):
        return Code.BAD_OPTION, "Request bodies in several blocks (Block1) are not supported"
    if RESERVED_SZX in (b.size_exponent for b in (block1, block2) if b is not None):
        return Code.BAD_REQUEST, f"Block size exponent {RESERVED_SZX} is reserved"
    return None


def query(request: aiocoap.Message) -> dict[str, str]:
    pairs = (item.partition("=") for item in request.opt.uri_query)
    return {key: value for key, _, value in pairs}


def _decimal(query: dict[str, str], name: str) -> int | None:
    """The parameter's value (0 when absent or empty), None when it has too many digits."""
    try:
        return parse_decimal(query.get(name) or "0")
    except ValueError:
        raise BadRequest(
            f"Parameter '{name}' must be a non-negative integer written with the digits 0-9"
        ) from None


def chunk_size(query: dict[str, str]) -> int:
    size = _decimal(query, "size")
    if size is None:
        raise BadRequest("Parameter 'size' is too large")
    return size


def chunk_index(query: dict[str, str]) -> int:
    """The chunk asked for; one with more digits than any file has chunks is past the end."""
    index = _decimal(query, "chunk")
    return PAST_THE_END if index is None else index


def device_token(raw: str) -> str:
    """A token that may be looked up: one that no database could hold matches no device."""
    try:
        return check_text(raw, "the access token")
    except BadRequest:
        raise Unauthorized(BAD_TOKEN) from None


def keys(query: dict[str, str], name: str, limit: int) -> list[str] | None:
    found = split_keys(query.get(name), limit=limit)
    for key in found or ():
        check_text(key, f"parameter '{name}'")
    return found


def observed(request: aiocoap.Message) -> bool:
    """An Observe registration (RFC 7641 §2: Observe 0 on a GET)."""
    return bool(request.code == Code.GET and request.opt.observe == 0)
