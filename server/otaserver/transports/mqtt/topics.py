"""ThingsBoard's MQTT device topics (spec §6.2) and topic-filter matching."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...domain.enums import OtaPackageType
from ...domain.inputs import parse_decimal

TELEMETRY = "v1/devices/me/telemetry"
ATTRIBUTES = "v1/devices/me/attributes"
ATTRIBUTES_REQUEST_PREFIX = "v1/devices/me/attributes/request/"
ATTRIBUTES_RESPONSE_PREFIX = "v1/devices/me/attributes/response/"
RPC_PREFIX = "v1/devices/me/rpc/"
# Errors of software downloads go here too, as in ThingsBoard's code.
OTA_ERROR = "v2/fw/error"

# The filters a device may subscribe to; ThingsBoard refuses any other.
ALLOWED_FILTERS = frozenset(
    {
        ATTRIBUTES,
        ATTRIBUTES_RESPONSE_PREFIX + "+",
        RPC_PREFIX + "request/+",
        RPC_PREFIX + "response/+",
        "v2/fw/response/+/chunk/+",
        "v2/sw/response/+/chunk/+",
        "v2/fw/error",
        "v2/sw/error",
    }
)

# [0-9], not \d: \d also matches other scripts' digits, which ThingsBoard (Java) refuses.
_CHUNK_REQUEST = re.compile(r"v2/(fw|sw)/request/([0-9]+)/chunk/([0-9]+)")
_ATTRIBUTE_REQUEST = re.compile(re.escape(ATTRIBUTES_REQUEST_PREFIX) + r"([0-9]+)")
# A chunk index with more digits than any count needs: past the end of any file.
PAST_ANY_END = 10**18


@dataclass(frozen=True)
class ChunkRequest:
    package_type: OtaPackageType
    request_id: str
    index: int
    # The index as the reply names it: without leading zeros, as ThingsBoard's int formatting.
    index_text: str

    @property
    def response_topic(self) -> str:
        prefix = self.package_type.key_prefix
        return f"v2/{prefix}/response/{self.request_id}/chunk/{self.index_text}"


def chunk_request(topic: str) -> ChunkRequest | None:
    match = _CHUNK_REQUEST.fullmatch(topic)
    if match is None:
        return None
    kind = OtaPackageType.FIRMWARE if match.group(1) == "fw" else OtaPackageType.SOFTWARE
    index_text = match.group(3).lstrip("0") or "0"
    index = parse_decimal(index_text)
    return ChunkRequest(kind, match.group(2), PAST_ANY_END if index is None else index, index_text)


def attribute_request_id(topic: str) -> str | None:
    match = _ATTRIBUTE_REQUEST.fullmatch(topic)
    return None if match is None else match.group(1)


def allowed_filter(topic_filter: str) -> bool:
    """One of ThingsBoard's filters, or a plain topic that one of them covers.

    ThingsBoard accepts only its exact filters; a concrete response topic is accepted here too,
    so that tools such as mosquitto_rr, which subscribe to the one topic they expect, work.
    """
    if topic_filter in ALLOWED_FILTERS:
        return True
    concrete = "+" not in topic_filter and "#" not in topic_filter
    return concrete and any(matches(allowed, topic_filter) for allowed in ALLOWED_FILTERS)


def valid_filter(topic_filter: str) -> bool:
    """MQTT's filter syntax: `+` fills a whole level, `#` only the last one."""
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for position, level in enumerate(levels):
        if "#" in level and (level != "#" or position != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def matches(topic_filter: str, topic: str) -> bool:
    filter_levels, topic_levels = topic_filter.split("/"), topic.split("/")
    for position, level in enumerate(filter_levels):
        if level == "#":
            return True
        if position >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[position]:
            return False
    return len(filter_levels) == len(topic_levels)
