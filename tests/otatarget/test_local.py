"""otatarget: an otakit of a run's own, and the REST helpers the suite and the simulator share."""

from __future__ import annotations

import uuid

import httpx
import pytest
from otatarget.local import SYSADMIN, start
from otatarget.rest import RestError, call, client, login, profile_body

LIMIT = 1000  # bytes: a package size limit the server can only have from the given settings


def test_only_otakit_settings_are_taken() -> None:
    with pytest.raises(ValueError, match=r"not otakit settings .*\['QUEUE_PACK_SIZE'\]"):
        start({"QUEUE_PACK_SIZE": "5"})


def test_the_server_runs_with_the_given_settings_and_none_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTAKIT_MAX_PACKAGE_SIZE", "10")  # the shell's: ignored
    with start({"OTAKIT_MAX_PACKAGE_SIZE": str(LIMIT)}, name="otatarget") as server:
        assert login(server.url, *server.sysadmin)
        assert server.sysadmin == SYSADMIN
        with client(server.url, *server.tenant_admin) as http:
            profile = call(http, "POST", "/api/deviceProfile", json=profile_body("p"))
            statuses = [upload(http, profile["id"], size) for size in (100, 2 * LIMIT)]
            missing = f"/api/device/{uuid.uuid4()}"
            with pytest.raises(RestError, match=f"GET {missing}: expected 200, got 404"):
                call(http, "GET", missing)
        assert statuses[0] == 200
        assert statuses[1] == 413  # larger than the limit given
        with pytest.raises(RestError) as refused:
            login(server.url, server.tenant_admin[0], "wrong")
        assert (refused.value.status, refused.value.path) == (401, "/api/auth/login")
        assert server.log.is_file() and server.data_dir.is_dir()
    assert server.process.poll() is not None  # stopped on leaving the block


def upload(http: httpx.Client, profile_ref: dict[str, str], size: int) -> int:
    """The status of an upload of `size` bytes as a new package."""
    info = call(
        http,
        "POST",
        "/api/otaPackage",
        json={
            "title": f"t-{uuid.uuid4().hex[:6]}",
            "version": "1",
            "type": "FIRMWARE",
            "deviceProfileId": profile_ref,
        },
    )
    response = http.post(
        f"/api/otaPackage/{info['id']['id']}",
        params={"checksumAlgorithm": "SHA256"},
        files={"file": ("x.bin", b"x" * size, "application/octet-stream")},
    )
    return response.status_code
