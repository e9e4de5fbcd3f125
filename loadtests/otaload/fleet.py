"""The run's devices: made in a new profile, read from an existing profile through the REST API,
or taken from a CSV file; and the server's addresses the devices use.

The master (or the only process) prepares the fleet once and hands each worker its share; it
travels as a plain dict, the form Locust's messages carry.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent.pool
import httpx
from otasim.admin import read_tokens_csv, token_for
from otatarget.rest import call, client, profile_body

CONCURRENCY = 16
PAGE_SIZE = 1000


@dataclass
class Fleet:
    url: str  # the REST API and the HTTP device API
    mqtt: tuple[str, int]
    coap: tuple[str, int]
    profile_id: str  # where the campaign assigns ("" when the devices came from a CSV alone)
    devices: list[tuple[str, str]] = field(default_factory=list)  # (device id, token)

    def as_message(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Fleet:
        return cls(
            data["url"],
            (data["mqtt"][0], int(data["mqtt"][1])),
            (data["coap"][0], int(data["coap"][1])),
            data["profile_id"],
            [(str(d), str(t)) for d, t in data["devices"]],
        )

    def share(self, part: int, parts: int) -> list[tuple[str, str]]:
        """The devices of worker `part` of `parts`: every parts-th, so shares differ by one."""
        return self.devices[part::parts]


def endpoints(url: str, mqtt_port: int, coap_port: int) -> tuple[tuple[str, int], tuple[str, int]]:
    host = urlsplit(url).hostname or "127.0.0.1"
    return (host, mqtt_port), (host, coap_port)


def prepare(
    url: str,
    credentials: tuple[str, str],
    mqtt: tuple[str, int],
    coap: tuple[str, int],
    *,
    devices: int,
    profile: str = "",
    tokens_csv: str = "",
) -> Fleet:
    """The fleet from a CSV file, an existing profile, or `devices` new ones in a new profile."""
    with client(url, *credentials) as http:
        profile_id = find_profile(http, profile) if profile else ""
        if tokens_csv:
            found = read_tokens_csv(Path(tokens_csv))
            ids = run_bounded(lambda row: device_id(http, row[0]), found)
            made = [(i, token) for i, (_, token) in zip(ids, found, strict=True)]
        elif profile_id:
            made = profile_devices(http, profile_id)
        else:
            name = f"otaload-{uuid.uuid4().hex[:8]}"
            profile_id = str(
                call(http, "POST", "/api/deviceProfile", json=profile_body(name))["id"]["id"]
            )
            names = [f"{name}-{i:06d}" for i in range(devices)]
            made = run_bounded(lambda n: make_device(http, profile_id, n), names)
    if not made:
        raise ValueError("the fleet has no devices")
    return Fleet(url, mqtt, coap, profile_id, made)


def run_bounded(work: Any, items: list[Any]) -> list[Any]:
    """`work` on each item, CONCURRENCY at a time on gevent; results in order."""
    pool = gevent.pool.Pool(CONCURRENCY)
    results: list[Any] = pool.map(work, items)
    return results


def find_profile(http: httpx.Client, name: str) -> str:
    page = call(
        http, "GET", "/api/deviceProfiles", params={"pageSize": 100, "page": 0, "textSearch": name}
    )
    for found in page.get("data", []):
        if found.get("name") == name:
            return str(found["id"]["id"])
    raise ValueError(f"no device profile named {name!r}")


def make_device(http: httpx.Client, profile_id: str, name: str) -> tuple[str, str]:
    token = token_for(name)
    body = {"name": name, "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": profile_id}}
    made = call(http, "POST", "/api/device", params={"accessToken": token}, json=body)
    return str(made["id"]["id"]), token


def device_id(http: httpx.Client, name: str) -> str:
    return str(call(http, "GET", "/api/tenant/devices", params={"deviceName": name})["id"]["id"])


def profile_devices(http: httpx.Client, profile_id: str) -> list[tuple[str, str]]:
    """(id, token) of every device of the profile, from the REST API."""
    ids: list[str] = []
    page = 0
    while True:
        answer = call(
            http,
            "GET",
            "/api/tenant/deviceInfos",
            params={"pageSize": PAGE_SIZE, "page": page, "deviceProfileId": profile_id},
        )
        ids += [str(d["id"]["id"]) for d in answer.get("data", [])]
        if not answer.get("hasNext"):
            break
        page += 1

    def token(i: str) -> tuple[str, str]:
        return i, str(call(http, "GET", f"/api/device/{i}/credentials")["credentialsId"])

    return run_bounded(token, ids)
