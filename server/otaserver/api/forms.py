"""ThingsBoard JSON bodies turned into the services' forms."""

from __future__ import annotations

from ..domain.enums import Authority, EntityType
from ..domain.errors import BadRequest
from ..services.forms import (
    CustomerForm,
    DeviceForm,
    PackageForm,
    ProfileForm,
    TenantForm,
    UserForm,
)
from ..services.tenants import default_profile_details
from .body import Body, package_type
from .views import CONTACT_FIELDS, PROFILE_ENUMS, PROFILE_IDS, PROFILE_TEXTS

# The width of the url column: a longer url is refused before it reaches the database.
URL_LENGTH = 1024


def _contact(body: Body) -> dict[str, object]:
    return {name: value for name in CONTACT_FIELDS if (value := body.text(name)) is not None}


def tenant_form(body: Body) -> TenantForm:
    return TenantForm(
        id=body.own_id(EntityType.TENANT),
        title=body.required_text("title", "Tenant title should be specified!"),
        region=body.text("region"),
        additional_info=body.obj("additionalInfo"),
        contact=_contact(body),
    )


def customer_form(body: Body) -> CustomerForm:
    return CustomerForm(
        id=body.own_id(EntityType.CUSTOMER),
        title=body.required_text("title", "Customer title should be specified!"),
        additional_info=body.obj("additionalInfo"),
        contact=_contact(body),
    )


def user_form(body: Body) -> UserForm:
    authority_name = body.required_text("authority", "User authority should be specified!")
    try:
        authority = Authority(authority_name)
    except ValueError:
        raise BadRequest(f"Unknown authority '{authority_name}'") from None
    return UserForm(
        id=body.own_id(EntityType.USER),
        email=body.required_text("email", "User email should be specified!"),
        authority=authority,
        tenant_id=body.entity_id("tenantId", EntityType.TENANT),
        customer_id=body.entity_id("customerId", EntityType.CUSTOMER),
        first_name=body.text("firstName"),
        last_name=body.text("lastName"),
        additional_info=body.obj("additionalInfo"),
    )


def _profile_details(body: Body) -> dict[str, object]:
    """ThingsBoard's profile fields otakit keeps and sends back: each checked for its type, as
    ThingsBoard's own parser would; null or left out is the default. Unknown fields are dropped,
    as ThingsBoard drops them."""
    details = default_profile_details()
    for name, allowed in PROFILE_ENUMS.items():
        value = body.text(name)
        if value is not None and value not in allowed:
            raise BadRequest(f"Field '{name}' must be one of {', '.join(allowed)}")
        if value is not None:
            details[name] = value
    if (data := body.obj("profileData")) is not None:
        details["profileData"] = data
    for name in PROFILE_TEXTS:
        details[name] = body.text(name, long=name == "image")
    for name in PROFILE_IDS:
        details[name] = body.obj(name)
    return details


def profile_form(body: Body) -> ProfileForm:
    return ProfileForm(
        id=body.own_id(EntityType.DEVICE_PROFILE),
        name=body.required_text("name", "Device profile name should be specified!"),
        description=body.text("description", long=True),
        is_default=body.flag("default"),
        firmware_id=body.entity_id("firmwareId", EntityType.OTA_PACKAGE),
        software_id=body.entity_id("softwareId", EntityType.OTA_PACKAGE),
        details=_profile_details(body),
    )


def device_form(body: Body) -> DeviceForm:
    return DeviceForm(
        id=body.own_id(EntityType.DEVICE),
        name=body.required_text("name", "Device name should be specified!"),
        device_profile_id=body.entity_id("deviceProfileId", EntityType.DEVICE_PROFILE),
        type=body.text("type"),
        label=body.text("label"),
        firmware_id=body.entity_id("firmwareId", EntityType.OTA_PACKAGE),
        software_id=body.entity_id("softwareId", EntityType.OTA_PACKAGE),
        additional_info=body.obj("additionalInfo"),
        device_data=body.obj("deviceData"),
    )


def package_form(body: Body) -> PackageForm:
    kind = package_type(body.required_text("type", "Type of OtaPackage should be specified!"))
    profile_id = body.entity_id("deviceProfileId", EntityType.DEVICE_PROFILE)
    url = body.text("url", long=True)
    if url is not None and len(url) > URL_LENGTH:
        raise BadRequest(f"Field 'url' must be at most {URL_LENGTH} characters long")
    if profile_id is None:
        raise BadRequest("OtaPackage should be assigned to device profile!")
    return PackageForm(
        id=body.own_id(EntityType.OTA_PACKAGE),
        title=body.required_text("title", "OtaPackage title should be specified!"),
        version=body.required_text("version", "OtaPackage version should be specified!"),
        type=kind,
        device_profile_id=profile_id,
        tag=body.text("tag"),
        url=url,
        # An OtaPackageInfo sent back for an update has a url but no usesUrl.
        uses_url=body.flag("usesUrl") if "usesUrl" in body.data else bool(url and url.strip()),
        additional_info=body.obj("additionalInfo"),
    )
