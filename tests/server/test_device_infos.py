"""ThingsBoard's DeviceInfo calls, the "devices affected" count, device-with-credentials and
attribute keys: with ThingsBoard's REST client where it has them, with httpx otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tb_rest_client.models import CustomerId as TbCustomerId
from tb_rest_client.models import (
    Device,
    DeviceCredentials,
    DeviceProfileId,
    SaveDeviceWithCredentialsRequest,
)
from tb_rest_client.models import DeviceId as TbDeviceId
from tb_rest_client.rest import ApiException
from tb_rest_client.rest_client import RestClient

from tests.conftest import TenantContext
from tests.support.api import Api, assert_error
from tests.support.process import ServerProcess

PAGE = {"pageSize": 50, "page": 0}


@pytest.fixture(autouse=True)
def no_traceback(server: ServerProcess) -> Iterator[None]:
    before = len(server.log())
    yield
    assert "Traceback" not in server.log()[before:]


@pytest.fixture
def client(tenant: TenantContext) -> Iterator[RestClient]:
    rest = RestClient(base_url=tenant.api.url)
    rest.login(username=tenant.admin_email, password="tenant-password")
    yield rest
    rest.logout()


def fleet(tenant: TenantContext) -> dict[str, Any]:
    """A customer with one device, a second profile with two devices of the tenant's own."""
    title = f"Acme-{uuid.uuid4().hex[:6]}"
    customer = tenant.api.post("/api/customer", {"title": title})
    customer_id = customer["id"]["id"]
    other = tenant.api.create_profile(f"meters-{uuid.uuid4().hex[:6]}")
    theirs = tenant.api.create_device("b-theirs", tenant.default_profile_id, label="Lobby")
    tenant.api.post(f"/api/customer/{customer_id}/device/{theirs['id']['id']}")
    own = [
        tenant.api.create_device(name, other["id"]["id"], token=f"tok-{uuid.uuid4().hex}")
        for name in ("a-meter", "c-meter")
    ]
    return {"customer": customer, "profile": other, "theirs": theirs, "own": own}


def names(page: dict[str, Any]) -> list[str]:
    return [d["name"] for d in page["data"]]


def test_device_infos_carry_customer_profile_and_activity(tenant: TenantContext) -> None:
    f = fleet(tenant)
    api = tenant.api
    infos = api.get("/api/tenant/deviceInfos", params={**PAGE, "sortProperty": "name"})
    assert names(infos) == ["a-meter", "b-theirs", "c-meter"]
    assert (infos["totalElements"], infos["totalPages"], infos["hasNext"]) == (3, 1, False)
    theirs = infos["data"][1]
    device = api.get(f"/api/device/{f['theirs']['id']['id']}")
    assert {k: theirs[k] for k in device} == device  # every device field, unchanged
    assert theirs["customerTitle"] == f["customer"]["title"]
    assert theirs["customerIsPublic"] is False
    assert theirs["deviceProfileName"] == "default"
    assert theirs["active"] is False
    assert infos["data"][0]["customerTitle"] is None
    assert infos["data"][0]["deviceProfileName"] == f["profile"]["name"]
    assert api.get(f"/api/device/info/{f['theirs']['id']['id']}") == theirs

    # A device that sent telemetry just now is active; the filter and the flag agree.
    meter = f["own"][0]
    token = api.get(f"/api/device/{meter['id']['id']}/credentials")["credentialsId"]
    assert api.http.post(f"/api/v1/{token}/telemetry", json={"t": 1}).status_code == 200
    assert api.get(f"/api/device/info/{meter['id']['id']}")["active"] is True
    active = api.get("/api/tenant/deviceInfos", params={**PAGE, "active": "TRUE"})
    assert names(active) == ["a-meter"]
    inactive = api.get("/api/tenant/deviceInfos", params={**PAGE, "active": "false"})
    assert sorted(names(inactive)) == ["b-theirs", "c-meter"]

    profile_id = f["profile"]["id"]["id"]
    by_profile = api.get("/api/tenant/deviceInfos", params={**PAGE, "deviceProfileId": profile_id})
    assert sorted(names(by_profile)) == ["a-meter", "c-meter"]
    # As in ThingsBoard, type wins over deviceProfileId.
    by_type = api.get(
        "/api/tenant/deviceInfos",
        params={**PAGE, "type": "default", "deviceProfileId": profile_id},
    )
    assert names(by_type) == ["b-theirs"]
    searched = api.get("/api/tenant/deviceInfos", params={**PAGE, "textSearch": "METER"})
    assert sorted(names(searched)) == ["a-meter", "c-meter"]

    by_customer = api.get(
        "/api/tenant/deviceInfos",
        params={**PAGE, "sortProperty": "customerTitle", "sortOrder": "DESC"},
    )
    assert names(by_customer)[0] == "b-theirs"
    by_profile_name = api.get(
        "/api/tenant/deviceInfos", params={**PAGE, "sortProperty": "deviceProfileName"}
    )
    assert names(by_profile_name)[0] == "b-theirs"  # "default" < "meters-..."
    paged = api.get(
        "/api/tenant/deviceInfos", params={"pageSize": 2, "page": 1, "sortProperty": "name"}
    )
    assert (names(paged), paged["totalPages"], paged["hasNext"]) == (["c-meter"], 2, False)

    customer_id = f["customer"]["id"]["id"]
    mine = api.get(f"/api/customer/{customer_id}/deviceInfos", params=PAGE)
    assert names(mine) == ["b-theirs"]
    assert_error(
        api.http.get("/api/tenant/deviceInfos", params={**PAGE, "sortProperty": "type"}), 400
    )
    assert_error(api.http.get("/api/tenant/deviceInfos", params={**PAGE, "active": "yes"}), 400)
    assert_error(api.http.get(f"/api/device/info/{uuid.uuid4()}"), 404)


def test_device_infos_with_thingsboards_client(tenant: TenantContext, client: RestClient) -> None:
    f = fleet(tenant)
    customer_id = TbCustomerId(f["customer"]["id"]["id"], "CUSTOMER")
    info = client.get_device_info_by_id(TbDeviceId(f["theirs"]["id"]["id"], "DEVICE"))
    assert (info.name, info.label, info.active) == ("b-theirs", "Lobby", False)
    assert info.customer_id.id == customer_id.id
    # The client's get_tenant_device_infos calls /api/deviceInfos/all: without
    # includeCustomers the tenant's own devices, with it every device.
    own = client.get_tenant_device_infos(page_size=10, page=0, sort_property="name")
    assert [d.name for d in own.data] == ["a-meter", "c-meter"]
    every = client.get_tenant_device_infos(
        page_size=10, page=0, include_customers=True, sort_property="name"
    )
    assert [d.name for d in every.data] == ["a-meter", "b-theirs", "c-meter"]
    theirs = client.get_customer_device_infos(customer_id, page_size=10, page=0)
    assert [d.name for d in theirs.data] == ["b-theirs"]


def test_count_of_devices_a_profile_assignment_reaches(
    tenant: TenantContext, client: RestClient, new_tenant: Callable[[], TenantContext]
) -> None:
    f = fleet(tenant)
    api, profile_id = tenant.api, f["profile"]["id"]["id"]
    tb_profile = DeviceProfileId(profile_id, "DEVICE_PROFILE")
    assert client.count_by_device_profile_and_empty_ota_package("FIRMWARE", tb_profile) == 2
    package = api.create_package(profile_id, "fw", "1.0")
    package = api.upload(package["id"]["id"], b"image")
    # A device with its own firmware is not reached by the profile's.
    api.post("/api/device", {**f["own"][0], "firmwareId": package["id"]})
    assert client.count_by_device_profile_and_empty_ota_package("FIRMWARE", tb_profile) == 1
    assert api.get(f"/api/devices/count/SOFTWARE/{profile_id}") == 2
    assert api.get(f"/api/devices/count/FIRMWARE/{tenant.default_profile_id}") == 1
    assert_error(api.http.get(f"/api/devices/count/BOOTLOADER/{profile_id}"), 400)
    # Counted in the caller's tenant, as ThingsBoard does: another's profile has none.
    assert new_tenant().api.get(f"/api/devices/count/FIRMWARE/{profile_id}") == 0


def test_device_with_credentials(tenant: TenantContext, client: RestClient) -> None:
    api, run = tenant.api, uuid.uuid4().hex[:8]
    profile = client.get_default_device_profile_info()
    saved = client.save_device_with_credentials(
        SaveDeviceWithCredentialsRequest(
            device=Device(name="with-creds", type=profile.name, label="L"),
            credentials=DeviceCredentials(
                credentials_type="ACCESS_TOKEN", credentials_id=f"{run}wc-1"
            ),
        )
    )
    device_id = saved.id.id
    assert (saved.name, saved.label) == ("with-creds", "L")
    assert api.get(f"/api/device/{device_id}/credentials")["credentialsId"] == f"{run}wc-1"
    assert api.http.post(f"/api/v1/{run}wc-1/telemetry", json={"t": 1}).status_code == 200

    # The same call updates a device and changes its token.
    device = api.get(f"/api/device/{device_id}")
    updated = api.post(
        "/api/device-with-credentials",
        {
            "device": {**device, "label": "L2"},
            "credentials": {"credentialsType": "ACCESS_TOKEN", "credentialsId": f"{run}wc-2"},
        },
    )
    assert updated["label"] == "L2" and updated["id"] == device["id"]
    assert api.get(f"/api/device/{device_id}/credentials")["credentialsId"] == f"{run}wc-2"
    assert api.http.post(f"/api/v1/{run}wc-1/telemetry", json={"t": 1}).status_code == 401

    # A taken token refuses an update before anything changes, and a new device whole.
    other = api.create_device("holder", token=f"{run}wc-held")
    held = {"device": {**device, "label": "L3"}, "credentials": {"credentialsId": f"{run}wc-held"}}
    assert_error(api.http.post("/api/device-with-credentials", json=held), 400, "already")
    assert api.get(f"/api/device/{device_id}")["label"] == "L2"
    assert (
        api.get(f"/api/device/{other['id']['id']}/credentials")["credentialsId"] == f"{run}wc-held"
    )
    taken = {"device": {"name": "dup"}, "credentials": {"credentialsId": f"{run}wc-2"}}
    assert_error(api.http.post("/api/device-with-credentials", json=taken), 400, "already")
    assert_error(api.http.get("/api/tenant/devices", params={"deviceName": "dup"}), 404)
    for body, message in (
        ({"device": {"name": "x"}}, "credentials"),
        ({"credentials": {"credentialsId": "t"}}, "device"),
        (
            {"device": {"name": "x"}, "credentials": {"credentialsType": "X509_CERTIFICATE"}},
            "ACCESS_TOKEN",
        ),
        ({"device": {"name": "x"}, "credentials": {}}, "credentialsId"),
        ({"device": {"name": "x"}, "credentials": {"credentialsId": "a b"}}, "Access token"),
    ):
        assert_error(api.http.post("/api/device-with-credentials", json=body), 400, message)
    with pytest.raises(ApiException) as refused:
        client.save_device_with_credentials(
            SaveDeviceWithCredentialsRequest(
                device=Device(name="no-creds", type=profile.name),
                credentials=DeviceCredentials(credentials_type="ACCESS_TOKEN", credentials_id=""),
            )
        )
    assert refused.value.status == 400


def test_attribute_keys(tenant: TenantContext, client: RestClient) -> None:
    api = tenant.api
    device = api.create_device("keys", tenant.default_profile_id, token=f"k-{uuid.uuid4().hex}")
    device_id = device["id"]["id"]
    token = api.get(f"/api/device/{device_id}/credentials")["credentialsId"]
    base = f"/api/plugins/telemetry/DEVICE/{device_id}"
    api.post(f"{base}/attributes/SERVER_SCOPE", {"zone": "b", "both": 1})
    api.post(f"{base}/attributes/SHARED_SCOPE", {"mode": "eco", "both": 2})
    assert api.http.post(f"/api/v1/{token}/attributes", json={"fw": "1"}).status_code == 200
    assert api.get(f"{base}/keys/attributes") == ["both", "fw", "mode", "zone"]
    assert api.get(f"{base}/keys/attributes/SERVER_SCOPE") == ["both", "zone"]
    assert api.get(f"{base}/keys/attributes/CLIENT_SCOPE") == ["fw"]
    tb_id = TbDeviceId(device_id, "DEVICE")
    assert client.get_attribute_keys(tb_id) == ["both", "fw", "mode", "zone"]
    assert client.get_attribute_keys_by_scope(tb_id, "SHARED_SCOPE") == ["both", "mode"]
    assert_error(api.http.get(f"{base}/keys/attributes/NO_SCOPE"), 400, "scope")
    assert_error(api.http.get(f"/api/plugins/telemetry/DEVICE/{uuid.uuid4()}/keys/attributes"), 404)


def test_who_may_read_device_infos(
    tenant: TenantContext, new_tenant: Callable[[], TenantContext], sysadmin: Api
) -> None:
    f = fleet(tenant)
    user, _ = tenant.new_customer_user()  # a customer user of another customer
    owner_id = f["customer"]["id"]["id"]
    owner_user = tenant.new_user("CUSTOMER_USER", customer_id=owner_id)
    theirs, own = f["theirs"]["id"]["id"], f["own"][0]["id"]["id"]
    profile_id = f["profile"]["id"]["id"]

    assert owner_user.get(f"/api/device/info/{theirs}")["name"] == "b-theirs"
    assert names(owner_user.get(f"/api/customer/{owner_id}/deviceInfos", params=PAGE)) == [
        "b-theirs"
    ]
    assert names(owner_user.get("/api/deviceInfos/all", params=PAGE)) == ["b-theirs"]
    assert_error(owner_user.http.get(f"/api/device/info/{own}"), 404)
    assert_error(owner_user.http.get("/api/tenant/deviceInfos", params=PAGE), 403)
    assert_error(owner_user.http.get(f"/api/devices/count/FIRMWARE/{profile_id}"), 403)
    body = {"device": {"name": "sneaky"}, "credentials": {"credentialsId": "sneaky"}}
    assert_error(owner_user.http.post("/api/device-with-credentials", json=body), 403)

    assert_error(user.http.get(f"/api/device/info/{theirs}"), 404)
    assert_error(user.http.get(f"/api/customer/{owner_id}/deviceInfos", params=PAGE), 404)
    assert user.get("/api/deviceInfos/all", params=PAGE)["data"] == []

    other = new_tenant().api
    assert_error(other.http.get(f"/api/device/info/{theirs}"), 404)
    assert_error(other.http.get(f"/api/customer/{owner_id}/deviceInfos", params=PAGE), 404)
    assert other.get("/api/tenant/deviceInfos", params=PAGE)["data"] == []
    assert_error(other.http.get(f"/api/plugins/telemetry/DEVICE/{theirs}/keys/attributes"), 404)
    assert_error(sysadmin.http.get(f"/api/device/info/{theirs}"), 403)
    assert_error(sysadmin.http.get("/api/tenant/deviceInfos", params=PAGE), 403)


def test_customer_user_lists_the_tenants_packages(tenant: TenantContext) -> None:
    user, _ = tenant.new_customer_user()
    package = tenant.api.create_package(tenant.default_profile_id, "listed", "1.0")
    listed = user.get("/api/otaPackages", params=PAGE)
    assert [p["id"] for p in listed["data"]] == [package["id"]]
    assert_error(
        user.http.post("/api/otaPackage", json={**package, "additionalInfo": {"x": 1}}), 403
    )
