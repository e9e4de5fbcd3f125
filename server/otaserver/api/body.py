"""Reading JSON request bodies and parameters with a clear 400 for anything malformed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from starlette.requests import ClientDisconnect, Request

from ..domain.enums import EntityType, OtaPackageType
from ..domain.errors import BadRequest, PayloadTooLarge
from ..domain.inputs import InputLimits, check_name, parse_decimal, parse_json
from ..domain.model import JsonDict, PageRequest
from .routing import Param, services
from .schema_parts import UUID_PATTERN, one_of_words, query_integer

# ThingsBoard's "no entity" id: the customer of an unassigned device, the tenant of the sysadmin.
NULL_UUID = UUID("13814000-1dd2-11b2-8080-808080808080")
MAX_PAGE_SIZE = 10_000
# The furthest row a page may start at: past this, every database would need 64-bit offsets.
MAX_OFFSET = 2**31 - 1
# The last page number: with any page size, the page then starts within MAX_OFFSET. A bound of
# its own, rather than one on the product, so that a schema can state it.
MAX_PAGE = MAX_OFFSET // MAX_PAGE_SIZE
_SORT_ORDER = {"type": "string", "pattern": "^([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])?$"}
_UUID_TEXT = re.compile(UUID_PATTERN)


def parse_uuid(text: str, what: str = "id") -> UUID:
    """A UUID written as ThingsBoard writes it (8-4-4-4-12 hex digits); UUID() alone would
    also take braces, a urn: prefix or no hyphens."""
    if not isinstance(text, str) or not _UUID_TEXT.fullmatch(text):
        raise BadRequest(f"Invalid UUID string for {what}: {text!r}")
    return UUID(text)


async def read_body(request: Request) -> bytes:
    """A JSON request's body, refused with 413 as soon as it passes the JSON body limit."""
    limit = services(request).limits.max_json_body
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"JSON body is larger than the limit of {limit} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLarge(f"JSON body is larger than the limit of {limit} bytes")
    except ClientDisconnect:
        raise BadRequest("The client disconnected before the body ended") from None
    return bytes(body)


async def json_body(request: Request) -> Body:
    limits = services(request).limits
    data = parse_json(await read_body(request), limits)
    if not isinstance(data, dict):
        raise BadRequest("Invalid request body: expected a JSON object")
    return Body(data, limits)


class Body:
    """A JSON object from a client, read field by field with type checks.

    Texts are names unless said otherwise: at most the name length limit.
    """

    def __init__(self, data: JsonDict, limits: InputLimits | None = None) -> None:
        self.data = data
        self.limits = limits or InputLimits()

    def _get(self, name: str, kinds: type | tuple[type, ...], kind_name: str) -> Any:
        value = self.data.get(name)
        if value is not None and not isinstance(value, kinds):
            raise BadRequest(f"Field '{name}' must be {kind_name}")
        return value

    def text(self, name: str, long: bool = False) -> str | None:
        """A string field; `long` for free text (a description) bounded only by the body."""
        value: str | None = self._get(name, str, "a string")
        if value is not None and not long:
            check_name(value, f"Field '{name}'", self.limits)
        return value

    def required_text(self, name: str, message: str, long: bool = False) -> str:
        value = self.text(name, long)
        if value is None or not value.strip():
            raise BadRequest(message)
        return value

    def flag(self, name: str) -> bool:
        return bool(self._get(name, bool, "true or false"))

    def obj(self, name: str) -> JsonDict | None:
        return self._get(name, dict, "a JSON object")  # type: ignore[no-any-return]

    def entity_id(self, name: str, entity_type: EntityType) -> UUID | None:
        """Reads `{"entityType": ..., "id": ...}`; ThingsBoard's null id counts as none."""
        value = self._get(name, dict, "an entity id object")
        if value is None or value.get("id") is None:
            return None
        given_type = value.get("entityType")
        if given_type is not None and given_type != entity_type.value:
            raise BadRequest(f"Field '{name}' must be an id of entityType {entity_type.value}")
        uuid = parse_uuid(value["id"], name)
        return None if uuid == NULL_UUID else uuid

    def own_id(self, entity_type: EntityType) -> UUID | None:
        return self.entity_id("id", entity_type)


def package_type(name: str) -> OtaPackageType:
    try:
        return OtaPackageType(name)
    except ValueError:
        raise BadRequest(f"Unknown OtaPackage type '{name}': use FIRMWARE or SOFTWARE") from None


def entity_id_json(entity_type: EntityType, uuid: UUID | None) -> JsonDict | None:
    return None if uuid is None else {"entityType": entity_type.value, "id": str(uuid)}


def query_int(request: Request, name: str, default: int | None = None, minimum: int = 0) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequest(f"Required request parameter '{name}' is not present")
        return default
    negative = raw.startswith("-")
    try:
        value = parse_decimal(raw[1:] if negative else raw)
    except ValueError:
        raise BadRequest(
            f"Parameter '{name}' must be an integer written with the digits 0-9"
        ) from None
    if value is None:
        raise BadRequest(f"Parameter '{name}' is too large")
    if negative:
        value = -value
    if value < minimum:
        raise BadRequest(f"Parameter '{name}' must be at least {minimum}")
    return value


def optional_int(request: Request, name: str) -> int | None:
    return query_int(request, name) if request.query_params.get(name) else None


def page_request(request: Request) -> PageRequest:
    """ThingsBoard's paging parameters: pageSize and page required, the rest optional."""
    order = (request.query_params.get("sortOrder") or "ASC").upper()
    if order not in ("ASC", "DESC"):
        raise BadRequest("Parameter 'sortOrder' must be ASC or DESC")
    page_size = query_int(request, "pageSize", minimum=1)
    if page_size > MAX_PAGE_SIZE:
        raise BadRequest(f"Parameter 'pageSize' must be at most {MAX_PAGE_SIZE}")
    page = query_int(request, "page")
    if page > MAX_PAGE:
        raise BadRequest(f"Parameter 'page' must be at most {MAX_PAGE}")
    return PageRequest(
        page_size=page_size,
        page=page,
        text_search=request.query_params.get("textSearch") or None,
        sort_property=request.query_params.get("sortProperty") or None,
        sort_order_desc=order == "DESC",
        start_time=optional_int(request, "startTime"),
        end_time=optional_int(request, "endTime"),
    )


def paging(sort: Sequence[str] | None, search: str) -> tuple[Param, ...]:
    """ThingsBoard's paging parameters (page_request), sorting by one of `sort`; None for a
    list in an order of its own, whose sortProperty is ignored."""
    sort_property = (
        Param("sortProperty", "Ignored: the order is fixed")
        if sort is None
        else Param(
            "sortProperty",
            "Property to sort by; empty or left out: createdTime",
            schema=one_of_words(sort, empty=True),
        )
    )
    return (
        Param(
            "pageSize",
            "Maximum number of items on a page",
            required=True,
            schema=query_integer(1, MAX_PAGE_SIZE),
        ),
        Param("page", "Page number, from 0", required=True, schema=query_integer(0, MAX_PAGE)),
        Param("textSearch", f"Case-insensitive substring of the {search}"),
        sort_property,
        Param("sortOrder", "ASC or DESC, in any case; empty or left out: ASC", schema=_SORT_ORDER),
    )
