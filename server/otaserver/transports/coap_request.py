"""What a CoAP request carries, read strictly: the options it may be served with."""

from __future__ import annotations

import aiocoap
from aiocoap.numbers.codes import Code

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


def observed(request: aiocoap.Message) -> bool:
    """An Observe registration (RFC 7641 §2: Observe 0 on a GET)."""
    return bool(request.code == Code.GET and request.opt.observe == 0)
