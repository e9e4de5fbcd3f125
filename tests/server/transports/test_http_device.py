"""The HTTP device API (spec §6.3) with a real HTTP client."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import TenantContext
from tests.support.api import assert_error
from tests.support.devices import Provisioned, provision, shared_attributes
from tests.support.strategies import file_and_chunk

DATA = bytes((i * 7 + 3) % 256 for i in range(10_000))


def device_url(tenant: TenantContext, token: str, path: str) -> str:
    return f"{tenant.api.url}/api/v1/{token}/{path}"


def fetch(
    tenant: TenantContext, p: Provisioned, kind: str = "firmware", **params: Any
) -> httpx.Response:
    query = {"title": p.title, "version": p.version, **params}
    # The tenant's keep-alive connection: a new connection per chunk would time the client.
    return tenant.api.http.get(f"/api/v1/{p.token}/{kind}", params=query)


def latest(tenant: TenantContext, device_id: str, keys: str) -> dict[str, Any]:
    return tenant.api.get(  # type: ignore[no-any-return]
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries",
        params={"keys": keys, "useStrictDataTypes": "true"},
    )


def test_telemetry_in_all_three_shapes(tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    url = device_url(tenant, p.token, "telemetry")
    assert httpx.post(url, json={"temperature": 21.5}).status_code == 200
    assert (
        httpx.post(url, json={"ts": 1_700_000_000_000, "values": {"phase": "IDLE"}}).status_code
        == 200
    )
    assert (
        httpx.post(
            url,
            json=[
                {"ts": 1_700_000_000_001, "values": {"phase": "DOWNLOADING"}},
                {"humidity": 40},
            ],
        ).status_code
        == 200
    )
    values = latest(tenant, p.device_id, "temperature,phase,humidity")
    assert values["temperature"][0]["value"] == 21.5
    assert values["phase"] == [{"ts": 1_700_000_000_001, "value": "DOWNLOADING"}]
    assert values["humidity"][0]["value"] == 40
    history = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/values/timeseries",
        params={"keys": "phase", "startTs": 0, "endTs": 2_000_000_000_000, "orderBy": "ASC"},
    )
    assert [point["value"] for point in history["phase"]] == ["IDLE", "DOWNLOADING"]


def test_bad_telemetry_is_refused(tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    url = device_url(tenant, p.token, "telemetry")
    assert_error(httpx.post(url, content=b"{oops"), 400, "not JSON")
    assert_error(httpx.post(url, json="just a string"), 400, "JSON object")
    assert_error(httpx.post(url, json={"ts": "yesterday", "values": {}}), 400, "'ts'")


def test_attributes_client_and_shared(tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    assert (
        httpx.post(
            device_url(tenant, p.token, "attributes"), json={"model": "X1", "serial": 7}
        ).status_code
        == 200
    )
    tenant.api.post(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/SHARED_SCOPE",
        {"color": "red", "interval": 10},
    )
    url = device_url(tenant, p.token, "attributes")
    both = httpx.get(url, params={"clientKeys": "model", "sharedKeys": "color,interval"})
    assert both.json() == {"client": {"model": "X1"}, "shared": {"color": "red", "interval": 10}}
    repeated = httpx.get(url, params=[("sharedKeys", "color"), ("sharedKeys", "interval")])
    assert repeated.json() == {"shared": {"color": "red", "interval": 10}}
    assert httpx.get(url, params={"sharedKeys": "nothing"}).json() == {}
    everything = httpx.get(url).json()
    assert everything["client"] == {"model": "X1", "serial": 7}
    # Every shared attribute: ours, and the fw_* ones the update queue wrote.
    assert everything["shared"] == shared_attributes(tenant, p.device_id)
    assert everything["shared"]["color"] == "red" and everything["shared"]["fw_title"] == p.title


def test_long_poll_gets_updates_and_deletions(tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    url = device_url(tenant, p.token, "attributes/updates")
    results: list[httpx.Response] = []

    def poll() -> None:
        results.append(httpx.get(url, params={"timeout": 20_000}, timeout=30))

    attributes = f"/api/plugins/telemetry/DEVICE/{p.device_id}/SHARED_SCOPE"
    for change in ({"fw_title": "new"}, None):
        thread = threading.Thread(target=poll)
        thread.start()
        time.sleep(0.5)  # the poll is waiting
        if change:
            tenant.api.post(attributes, change)
        else:
            tenant.api.delete(f"{attributes}?keys=fw_title")
        thread.join(30)
    assert [r.json() for r in results] == [{"fw_title": "new"}, {"deleted": ["fw_title"]}]


def test_long_poll_times_out_with_408(tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    started = time.monotonic()
    response = httpx.get(device_url(tenant, p.token, "attributes/updates"), params={"timeout": 300})
    assert response.status_code == 408
    assert 0.25 < time.monotonic() - started < 10


@pytest.mark.parametrize("kind", ["firmware", "software"])
def test_whole_download_with_headers(tenant: TenantContext, kind: str) -> None:
    p = provision(tenant, DATA, kind.upper())
    response = fetch(tenant, p, kind)
    assert response.status_code == 200 and response.content == DATA
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["content-disposition"] == "attachment;filename=fw.bin"
    assert fetch(tenant, p, kind, size=0, chunk=5).content == DATA


def test_range_resumes_a_download(tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    response = httpx.get(
        device_url(tenant, p.token, "firmware"),
        params={"title": p.title, "version": p.version},
        headers={"Range": "bytes=4000-"},
    )
    assert response.status_code == 206 and response.content == DATA[4000:]


def download(tenant: TenantContext, p: Provisioned, chunk: int) -> bytes:
    """Chunks until an empty one, checking each chunk's length on the way."""
    received, index = b"", 0
    while True:
        response = fetch(tenant, p, size=chunk, chunk=index)
        assert response.status_code == 200
        if not response.content:
            assert index == -(-len(p.data) // chunk)
            return received
        assert len(response.content) == min(chunk, len(p.data) - len(received))
        received += response.content
        index += 1


@pytest.mark.parametrize("size", [1, 1023, 1024, 1025, 300_000])
def test_chunks_concatenate_to_the_package(tenant: TenantContext, size: int) -> None:
    data = bytes((i * 13) % 251 for i in range(size))
    assert download(tenant, provision(tenant, data), 1024) == data


@pytest.mark.parametrize("chunk", [1000, 4096, len(DATA) - 1, len(DATA), 1 << 20])
def test_chunk_sizes_around_the_file_size(tenant: TenantContext, chunk: int) -> None:
    assert download(tenant, provision(tenant, DATA), chunk) == DATA


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=file_and_chunk(3000, 3500))
def test_any_file_and_chunk_size(tenant: TenantContext, sizes: tuple[int, int]) -> None:
    size, chunk = sizes
    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    p = provision(tenant, data)
    pieces = [fetch(tenant, p, size=chunk, chunk=i).content for i in range(-(-size // chunk) + 1)]
    assert b"".join(pieces) == data
    assert pieces[-1] == b""


def test_download_errors(tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    assert_error(
        httpx.get(
            device_url(tenant, "no-such-token", "firmware"),
            params={"title": p.title, "version": p.version},
        ),
        401,
    )
    assert_error(
        httpx.get(device_url(tenant, p.token, "firmware"), params={"title": p.title}),
        400,
        "'version'",
    )
    assert_error(
        httpx.get(
            device_url(tenant, p.token, "firmware"), params={"title": p.title, "version": "9.9"}
        ),
        400,
        "assigned",
    )
    assert_error(
        httpx.get(
            device_url(tenant, p.token, "firmware"),
            params={"title": p.title.upper(), "version": p.version},
        ),
        400,
    )
    assert_error(fetch(tenant, p, size="big"), 400, "integer")
    assert_error(fetch(tenant, p, chunk=-1), 400, "at least 0")
    assert_error(fetch(tenant, p, "software"), 404)


def test_url_package_is_not_served(tenant: TenantContext) -> None:
    package = tenant.api.create_package(
        tenant.default_profile_id, "remote", "1", usesUrl=True, url="https://cdn.example/fw.bin"
    )
    tenant.api.create_device(
        "d", tenant.default_profile_id, token="url-dev", firmwareId=package["id"]
    )
    response = httpx.get(
        device_url(tenant, "url-dev", "firmware"), params={"title": "remote", "version": "1"}
    )
    assert_error(response, 404)


def test_profile_package_serves_devices_without_their_own(tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    profile = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    tenant.api.post("/api/deviceProfile", {**profile, "firmwareId": p.package["id"]})
    tenant.api.create_device("plain", tenant.default_profile_id, token="plain-dev")
    response = httpx.get(
        device_url(tenant, "plain-dev", "firmware"), params={"title": p.title, "version": p.version}
    )
    assert response.content == DATA


def test_a_device_never_gets_another_devices_package_or_attributes(tenant: TenantContext) -> None:
    mine, theirs = provision(tenant, b"mine" * 100), provision(tenant, b"theirs" * 100)
    tenant.api.post(
        f"/api/plugins/telemetry/DEVICE/{theirs.device_id}/SHARED_SCOPE", {"secret": "theirs"}
    )
    response = httpx.get(
        device_url(tenant, mine.token, "firmware"),
        params={"title": theirs.title, "version": theirs.version},
    )
    assert_error(response, 400)
    assert fetch(tenant, mine).content == b"mine" * 100
    shared = httpx.get(
        device_url(tenant, mine.token, "attributes"), params={"sharedKeys": "secret"}
    )
    assert shared.json() == {}
