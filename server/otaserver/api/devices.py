"""Devices, their credentials and customers, and device profiles."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.enums import EntityType
from ..domain.errors import BadRequest
from ..services.devices import check_token
from .body import json_body, page_request, paging, parse_uuid
from .forms import device_form, profile_form
from .openapi_requests import access_token
from .routing import Operation, Param, principal, services
from .views import credentials_json, device_json, page_json, profile_info_json, profile_json


async def save_device(request: Request) -> Response:
    form = device_form(await json_body(request))
    token = request.query_params.get("accessToken") or None
    if token is not None:
        check_token(token)  # also on an update, which ignores it: the parameter is malformed
    device = await services(request).devices.save(await principal(request), form, token)
    return JSONResponse(device_json(device))


async def get_device(request: Request) -> Response:
    device_id = parse_uuid(request.path_params["deviceId"])
    return JSONResponse(
        device_json(await services(request).devices.get(await principal(request), device_id))
    )


async def delete_device(request: Request) -> Response:
    device_id = parse_uuid(request.path_params["deviceId"])
    await services(request).devices.delete(await principal(request), device_id)
    return Response(status_code=200)


async def tenant_devices(request: Request) -> Response:
    """A page of the tenant's devices, or with `deviceName` the one device of that name."""
    name = request.query_params.get("deviceName")
    if name is not None:
        device = await services(request).devices.by_name(await principal(request), name)
        return JSONResponse(device_json(device))
    page = await services(request).devices.page(
        await principal(request),
        page_request(request),
        device_type=request.query_params.get("type"),
    )
    return JSONResponse(page_json(page, device_json))


async def customer_devices(request: Request) -> Response:
    customer_id = parse_uuid(request.path_params["customerId"])
    page = await services(request).devices.page(
        await principal(request),
        page_request(request),
        device_type=request.query_params.get("type"),
        customer_id=customer_id,
    )
    return JSONResponse(page_json(page, device_json))


async def get_credentials(request: Request) -> Response:
    device_id = parse_uuid(request.path_params["deviceId"])
    credentials = await services(request).devices.credentials(await principal(request), device_id)
    return JSONResponse(credentials_json(credentials))


async def update_credentials(request: Request) -> Response:
    body = await json_body(request)
    device_id = body.entity_id("deviceId", EntityType.DEVICE)
    if device_id is None:
        raise BadRequest("deviceId should be specified!")
    if body.text("credentialsType") not in (None, "ACCESS_TOKEN"):
        raise BadRequest("otakit supports ACCESS_TOKEN credentials only")
    token = body.required_text("credentialsId", "credentialsId should be specified!")
    credentials = await services(request).devices.update_credentials(
        await principal(request), device_id, token
    )
    return JSONResponse(credentials_json(credentials))


async def assign_to_customer(request: Request) -> Response:
    customer_id = parse_uuid(request.path_params["customerId"])
    device_id = parse_uuid(request.path_params["deviceId"])
    device = await services(request).devices.set_customer(
        await principal(request), device_id, customer_id
    )
    return JSONResponse(device_json(device))


async def unassign_from_customer(request: Request) -> Response:
    device_id = parse_uuid(request.path_params["deviceId"])
    device = await services(request).devices.set_customer(await principal(request), device_id, None)
    return JSONResponse(device_json(device))


async def save_profile(request: Request) -> Response:
    form = profile_form(await json_body(request))
    profile = await services(request).profiles.save(await principal(request), form)
    return JSONResponse(profile_json(profile))


async def get_profile(request: Request) -> Response:
    profile_id = parse_uuid(request.path_params["deviceProfileId"])
    return JSONResponse(
        profile_json(await services(request).profiles.get(await principal(request), profile_id))
    )


async def get_profile_info(request: Request) -> Response:
    profile_id = parse_uuid(request.path_params["deviceProfileId"])
    profile = await services(request).profiles.get(await principal(request), profile_id)
    return JSONResponse(profile_info_json(profile))


async def default_profile_info(request: Request) -> Response:
    profile = await services(request).profiles.get_default(await principal(request))
    return JSONResponse(profile_info_json(profile))


async def set_default_profile(request: Request) -> Response:
    profile_id = parse_uuid(request.path_params["deviceProfileId"])
    profile = await services(request).profiles.set_default(await principal(request), profile_id)
    return JSONResponse(profile_json(profile))


async def delete_profile(request: Request) -> Response:
    profile_id = parse_uuid(request.path_params["deviceProfileId"])
    await services(request).profiles.delete(await principal(request), profile_id)
    return Response(status_code=200)


async def list_profiles(request: Request) -> Response:
    page = await services(request).profiles.page(await principal(request), page_request(request))
    return JSONResponse(page_json(page, profile_json))


async def list_profile_infos(request: Request) -> Response:
    page = await services(request).profiles.page(await principal(request), page_request(request))
    return JSONResponse(page_json(page, profile_info_json))


DEVICES, PROFILES = "Devices", "Device profiles"
DEVICE_PAGING = paging(("createdTime", "name", "type", "label"), "name")
PROFILE_PAGING = paging(("createdTime", "name", "isDefault", "description"), "name")
# Making a profile the default races any other doing so; the loser may try again.
RACE = {409: "Another profile was made the default at the same moment; try again"}
OPERATIONS = [
    Operation(
        "POST",
        "/api/device",
        save_device,
        "Create or update a device; firmwareId/softwareId assign packages",
        DEVICES,
        query=[
            Param(
                "accessToken",
                "Access token of a new device; empty or left out: a random one",
                schema=access_token(empty=True),
            )
        ],
        body="DeviceRequest",
        response="Device",
    ),
    Operation("GET", "/api/device/{deviceId}", get_device, "A device", DEVICES, response="Device"),
    Operation("DELETE", "/api/device/{deviceId}", delete_device, "Delete a device", DEVICES),
    Operation(
        "GET",
        "/api/tenant/devices",
        tenant_devices,
        "The tenant's devices (or, with deviceName, one device)",
        DEVICES,
        query=[
            *DEVICE_PAGING,
            Param("type", "Only devices of this profile name"),
            Param("deviceName", "Return the one device of this name instead of a page"),
        ],
        response="DeviceOrPage",
    ),
    Operation(
        "GET",
        "/api/customer/{customerId}/devices",
        customer_devices,
        "A customer's devices",
        DEVICES,
        query=[*DEVICE_PAGING, Param("type", "Only devices of this profile name")],
        response="PageDataDevice",
    ),
    Operation(
        "GET",
        "/api/device/{deviceId}/credentials",
        get_credentials,
        "A device's access token",
        DEVICES,
        response="DeviceCredentials",
    ),
    Operation(
        "POST",
        "/api/device/credentials",
        update_credentials,
        "Change a device's access token",
        DEVICES,
        body="DeviceCredentialsRequest",
        response="DeviceCredentials",
    ),
    Operation(
        "POST",
        "/api/customer/{customerId}/device/{deviceId}",
        assign_to_customer,
        "Assign a device to a customer",
        DEVICES,
        response="Device",
    ),
    Operation(
        "DELETE",
        "/api/customer/device/{deviceId}",
        unassign_from_customer,
        "Take a device back from its customer",
        DEVICES,
        response="Device",
    ),
    Operation(
        "POST",
        "/api/deviceProfile",
        save_profile,
        "Create or update a device profile; firmwareId/softwareId assign packages",
        PROFILES,
        body="DeviceProfileRequest",
        response="DeviceProfile",
        responses=RACE,
    ),
    Operation(
        "GET",
        "/api/deviceProfile/{deviceProfileId}",
        get_profile,
        "A device profile",
        PROFILES,
        response="DeviceProfile",
    ),
    Operation(
        "DELETE",
        "/api/deviceProfile/{deviceProfileId}",
        delete_profile,
        "Delete an unused device profile",
        PROFILES,
    ),
    Operation(
        "POST",
        "/api/deviceProfile/{deviceProfileId}/default",
        set_default_profile,
        "Make a profile the tenant's default",
        PROFILES,
        response="DeviceProfile",
        responses=RACE,
    ),
    Operation(
        "GET",
        "/api/deviceProfiles",
        list_profiles,
        "The tenant's device profiles",
        PROFILES,
        query=PROFILE_PAGING,
        response="PageDataDeviceProfile",
    ),
    Operation(
        "GET",
        "/api/deviceProfileInfos",
        list_profile_infos,
        "The tenant's device profiles, short form",
        PROFILES,
        query=PROFILE_PAGING,
        response="PageDataDeviceProfileInfo",
    ),
    Operation(
        "GET",
        "/api/deviceProfileInfo/default",
        default_profile_info,
        "The tenant's default device profile, short form",
        PROFILES,
        response="DeviceProfileInfo",
    ),
    Operation(
        "GET",
        "/api/deviceProfileInfo/{deviceProfileId}",
        get_profile_info,
        "A device profile, short form",
        PROFILES,
        response="DeviceProfileInfo",
    ),
]
