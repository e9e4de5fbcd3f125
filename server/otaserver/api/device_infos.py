"""ThingsBoard's DeviceInfo listings, the "devices affected" count and saving a device with its
credentials in one call."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.errors import BadRequest
from ..services.device_infos import InfoFilters
from .body import Body, json_body, package_type, page_request, paging, parse_uuid
from .forms import device_form
from .routing import Operation, Param, principal, services
from .schema_parts import UUID_PATTERN
from .views import device_info_json, device_json, page_json

_BOOLEAN = {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])?$"}


def _flag(request: Request, name: str) -> bool | None:
    """A true/false query parameter in any case; empty or left out: None."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    if raw.lower() not in ("true", "false"):
        raise BadRequest(f"Parameter '{name}' must be true or false")
    return raw.lower() == "true"


def _filters(request: Request) -> InfoFilters:
    raw_profile = request.query_params.get("deviceProfileId")
    return InfoFilters(
        device_type=request.query_params.get("type") or None,
        device_profile_id=parse_uuid(raw_profile, "deviceProfileId") if raw_profile else None,
        active=_flag(request, "active"),
    )


async def tenant_device_infos(request: Request) -> Response:
    page = await services(request).device_infos.tenant_page(
        await principal(request), page_request(request), _filters(request)
    )
    return JSONResponse(page_json(page, device_info_json))


async def all_device_infos(request: Request) -> Response:
    filters = _filters(request)
    page = await services(request).device_infos.owned_page(
        await principal(request),
        page_request(request),
        InfoFilters(device_profile_id=filters.device_profile_id, active=filters.active),
        include_customers=_flag(request, "includeCustomers") or False,
    )
    return JSONResponse(page_json(page, device_info_json))


async def customer_device_infos(request: Request) -> Response:
    customer_id = parse_uuid(request.path_params["customerId"])
    page = await services(request).device_infos.customer_page(
        await principal(request), page_request(request), customer_id, _filters(request)
    )
    return JSONResponse(page_json(page, device_info_json))


async def device_info(request: Request) -> Response:
    device_id = parse_uuid(request.path_params["deviceId"])
    info = await services(request).device_infos.get(await principal(request), device_id)
    return JSONResponse(device_info_json(info))


async def count_without_package(request: Request) -> Response:
    kind = package_type(request.path_params["otaPackageType"])
    profile_id = parse_uuid(request.path_params["deviceProfileId"])
    count = await services(request).device_infos.count_without_package(
        await principal(request), kind, profile_id
    )
    return JSONResponse(count)


async def save_with_credentials(request: Request) -> Response:
    """ThingsBoard's SaveDeviceWithCredentialsRequest: {"device": ..., "credentials": ...}."""
    body = await json_body(request)
    device, credentials = body.obj("device"), body.obj("credentials")
    if device is None:
        raise BadRequest("Field 'device' should be specified!")
    if credentials is None:
        raise BadRequest("Field 'credentials' should be specified!")
    form = device_form(Body(device, body.limits))
    given = Body(credentials, body.limits)
    if given.text("credentialsType") not in (None, "ACCESS_TOKEN"):
        raise BadRequest("otakit supports ACCESS_TOKEN credentials only")
    token = given.required_text("credentialsId", "credentialsId should be specified!")
    saved = await services(request).devices.save_with_credentials(
        await principal(request), form, token
    )
    return JSONResponse(device_json(saved))


TAG = "Devices"
# ThingsBoard's sortable properties of device infos.
INFO_SORT = ("createdTime", "name", "deviceProfileName", "label", "customerTitle")
OPTIONAL_ID = {"type": "string", "pattern": f"^({UUID_PATTERN[1:-1]})?$"}
PROFILE = Param(
    "deviceProfileId", "Only devices of this profile (ignored with type)", schema=OPTIONAL_ID
)
ACTIVE = Param(
    "active",
    "true or false (any case): only devices that did or did not send telemetry or client "
    "attributes in the last 10 minutes",
    schema=_BOOLEAN,
)
INFO_QUERY = [
    *paging(INFO_SORT, "device name"),
    Param("type", "Only devices of this profile name"),
    PROFILE,
    ACTIVE,
]
OPERATIONS = [
    Operation(
        "GET",
        "/api/tenant/deviceInfos",
        tenant_device_infos,
        "The tenant's devices with their customer's and profile's names",
        TAG,
        query=INFO_QUERY,
        response="PageDataDeviceInfo",
    ),
    Operation(
        "GET",
        "/api/deviceInfos/all",
        all_device_infos,
        "The devices of the user's owner (ThingsBoard PE's call, which tb-rest-client uses): "
        "a customer user's customer's; a tenant's own, or with includeCustomers all",
        TAG,
        query=[
            *paging(INFO_SORT, "device name"),
            Param(
                "includeCustomers",
                "true or false (any case; default false): tenant administrators also get "
                "their customers' devices",
                schema=_BOOLEAN,
            ),
            PROFILE,
            ACTIVE,
        ],
        response="PageDataDeviceInfo",
    ),
    Operation(
        "GET",
        "/api/customer/{customerId}/deviceInfos",
        customer_device_infos,
        "A customer's devices with their customer's and profile's names",
        TAG,
        query=INFO_QUERY,
        response="PageDataDeviceInfo",
    ),
    Operation(
        "GET",
        "/api/device/info/{deviceId}",
        device_info,
        "A device with its customer's and profile's names",
        TAG,
        response="DeviceInfo",
    ),
    Operation(
        "GET",
        "/api/devices/count/{otaPackageType}/{deviceProfileId}",
        count_without_package,
        "How many devices of the profile have no package of that type of their own "
        "(those a package assigned to the profile reaches)",
        TAG,
        response="Count",
        path_params={"otaPackageType": {"enum": ["FIRMWARE", "SOFTWARE"]}},
    ),
    Operation(
        "POST",
        "/api/device-with-credentials",
        save_with_credentials,
        "Create or update a device together with its access token",
        TAG,
        body="SaveDeviceWithCredentialsRequest",
        response="Device",
    ),
]
