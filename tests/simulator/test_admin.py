"""otasim.admin against a real otakit, started as the simulator's --start-local does."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from otasim.admin import Admin, AdminError, bounded, login, read_tokens_csv, token_for
from otatarget.local import LocalServer, start

from tests.conftest import database_for

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def local(backend: str) -> Iterator[LocalServer]:
    with ExitStack() as stack:
        database = database_for(backend, stack)
        # A queue that notifies every device within a second: the tests wait for no pace.
        settings = {
            "OTAKIT_DATABASE_URL": database,
            "OTAKIT_QUEUE_PACK_SIZE": "100000",
            "OTAKIT_QUEUE_PACK_INTERVAL_MS": "200",
        }
        with start(settings, name="sim-admin") as server:
            yield server


async def admin_of(server: LocalServer) -> Admin:
    return await login(server.url, *server.tenant_admin)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def device_get(url: str, token: str, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await http.get(f"/api/v1/{token}/{path}", params=params)


async def shared_title(url: str, token: str, expected: str | None, timeout: float = 10) -> Any:
    """The device's shared fw_title once it is `expected` (the queue notifies within its
    interval), or as it is when `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        answer = (await device_get(url, token, "attributes", sharedKeys="fw_title")).json()
        title = answer.get("shared", {}).get("fw_title")
        if title == expected or time.monotonic() > deadline:
            return title
        await asyncio.sleep(0.1)


def test_fifty_devices_made_concurrently_answer_with_their_tokens(local: LocalServer) -> None:
    names = [unique("fleet") for _ in range(50)]

    async def scenario() -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[int]]:
        async with await admin_of(local) as admin:
            profile = await admin.create_profile(unique("profile"))
            made = await admin.create_devices(profile, names, concurrency=16)
            again = await admin.create_devices(profile, names)
            statuses = [
                (await device_get(local.url, token, "attributes")).status_code for _, token in made
            ]
            await admin.delete_devices([device_id for device_id, _ in made])
            return made, again, statuses

    made, again, statuses = run(scenario())
    assert len({device_id for device_id, _ in made}) == 50
    assert [token for _, token in made] == [token_for(name) for name in names]
    assert again == made  # a rerun with the same names finds the same devices and tokens
    assert statuses == [200] * 50


def test_a_device_found_again_moves_to_the_profile_asked_for(local: LocalServer) -> None:
    async def scenario() -> tuple[str, str, str, str]:
        async with await admin_of(local) as admin:
            first = await admin.create_profile(unique("profile"))
            second = await admin.create_profile(unique("profile"))
            name = unique("mover")
            [(device_id, _)] = await admin.create_devices(first, [name])
            [(again, _)] = await admin.create_devices(second, [name])
            device = await admin.call("GET", f"/api/device/{device_id}")
            return device_id, again, device["deviceProfileId"]["id"], second

    device_id, again, profile, second = run(scenario())
    assert again == device_id
    assert profile == second


def test_tokens_are_read_from_an_operators_csv(tmp_path: Path) -> None:
    good = tmp_path / "tokens.csv"
    good.write_text("name,token\nboiler-1, tok-1\n\nboiler-2,tok-2\n")
    assert read_tokens_csv(good) == [("boiler-1", "tok-1"), ("boiler-2", "tok-2")]

    bad = tmp_path / "bad.csv"
    bad.write_text("name,token\nboiler-1,tok-1\nboiler-2\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 3: expected a name and a token"):
        read_tokens_csv(bad)
    headless = tmp_path / "headless.csv"
    headless.write_text("boiler-1,tok-1\n")
    with pytest.raises(ValueError, match=r"line 1: the header must be 'name,token'"):
        read_tokens_csv(headless)
    twice = tmp_path / "twice.csv"
    twice.write_text("name,token\nb,1\nb,2\n")
    with pytest.raises(ValueError, match=r"line 3: device 'b' is named twice"):
        read_tokens_csv(twice)


def test_a_package_assigned_to_the_profile_reaches_its_devices(local: LocalServer) -> None:
    title = unique("image")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], Any]:
        async with await admin_of(local) as admin:
            profile = await admin.create_profile(unique("profile"))
            [(_, token)] = await admin.create_devices(profile, [unique("dev")])
            waiting = asyncio.create_task(admin.wait_for_assignment(profile, 30, interval=0.1))
            package = await admin.upload_package(profile, title, "2.0", b"\x01" * 5000, "MD5")
            await admin.assign_to_profile(profile, package)
            seen = await waiting
            return package, seen, await shared_title(local.url, token, title)

    package, seen, shared = run(scenario())
    assert package["checksumAlgorithm"] == "MD5" and package["dataSize"] == 5000
    assert seen["id"] == package["id"] and seen["title"] == title
    assert shared == title


def test_a_package_assigned_to_devices_reaches_them_alone(local: LocalServer) -> None:
    title = unique("own")

    async def scenario() -> list[Any]:
        async with await admin_of(local) as admin:
            profile = await admin.create_profile(unique("profile"))
            devices = await admin.create_devices(profile, [unique("dev") for _ in range(3)])
            package = await admin.upload_package(profile, title, "1.0", b"image", "SHA256")
            await admin.assign_to_devices([device_id for device_id, _ in devices[:2]], package)
            expected = [title, title, None]
            return [
                await shared_title(local.url, token, wanted)
                for (_, token), wanted in zip(devices, expected, strict=True)
            ]

    assert run(scenario()) == [title, title, None]


def test_waiting_for_an_assignment_that_never_comes_times_out(local: LocalServer) -> None:
    async def scenario() -> None:
        async with await admin_of(local) as admin:
            profile = await admin.create_profile(unique("profile"))
            await admin.wait_for_assignment(profile, 0.3, interval=0.1)

    with pytest.raises(TimeoutError, match="no firmware was assigned to profile"):
        run(scenario())


def test_server_states_show_what_devices_reported_and_when_they_were_notified(
    local: LocalServer,
) -> None:
    async def scenario() -> dict[str, tuple[str | None, list[int]]]:
        async with await admin_of(local) as admin:
            profile = await admin.create_profile(unique("profile"))
            (reporter, token), (silent, _) = await admin.create_devices(
                profile, [unique("dev"), unique("dev")]
            )
            async with httpx.AsyncClient(base_url=local.url, timeout=30) as http:
                for ts, state in ((1000, "INITIATED"), (2000, "DOWNLOADING")):
                    posted = await http.post(
                        f"/api/v1/{token}/telemetry", json={"ts": ts, "values": {"fw_state": state}}
                    )
                    assert posted.status_code == 200
            states = await admin.server_states([reporter, silent])
            return {"reporter": states[reporter], "silent": states[silent]}

    assert run(scenario()) == {"reporter": ("DOWNLOADING", [1000]), "silent": (None, [])}


def test_a_wrong_password_is_an_admin_error_with_status_401(local: LocalServer) -> None:
    with pytest.raises(AdminError) as refused:
        run(login(local.url, local.tenant_admin[0], "wrong-password"))
    assert refused.value.status == 401
    assert refused.value.method == "POST" and refused.value.path == "/api/auth/login"
    assert "got 401" in str(refused.value)


def test_a_refused_call_names_the_call_and_the_servers_answer(local: LocalServer) -> None:
    async def scenario() -> None:
        async with await admin_of(local) as admin:
            await admin.assign_to_devices([str(uuid.uuid4())], {"type": "FIRMWARE", "id": {}})

    with pytest.raises(AdminError, match=r"GET /api/device/[0-9a-f-]+: expected 200, got 404"):
        run(scenario())


def test_bounded_work_keeps_to_its_limit_and_its_order() -> None:
    running, peak = 0, 0

    async def work(item: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return item * 2

    assert run(bounded(range(20), work, 3)) == [item * 2 for item in range(20)]
    assert peak == 3
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        run(bounded([1], work, 0))
