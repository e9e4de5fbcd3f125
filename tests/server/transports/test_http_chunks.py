"""The chunk fast path answers exactly what the route answers, and leaves the rest to it.

Two servers hold the same device and package: on one, every chunk request goes to the route
(an injected fault that HTTP downloads never meet switches the fast path off); on the other,
the fast path answers what it can. Every answer must be the same, byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from otaserver.domain.enums import OtaPackageType
from otaserver.domain.errors import Unauthorized
from otaserver.transports.http_chunks import ChunkFastPath
from tests.conftest import create_tenant
from tests.support.api import Api, entity_id
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess, start_server

DATA = os.urandom(10_000)
TOKEN = "chunk-fast-path-token"
TITLE, VERSION = "fw+ä one", "1.0"
FILE_NAME = "fw é.bin"  # needs filename*: the headers are not plain
NO_PACKAGE_TOKEN = "chunk-fast-path-none"
ARABIC_ONE = "\u0661"
VARYING = {"date", "last-modified", "etag"}


def _serve(directory: Path, **env: str) -> ServerProcess:
    server = start_server(directory, env={"OTAKIT_QUEUE_PACK_INTERVAL_MS": "1000", **env})
    tenant = create_tenant(Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD))
    api, profile = tenant.api, tenant.default_profile_id
    package = api.create_package(profile, TITLE, VERSION)
    api.upload(package["id"]["id"], DATA, file_name=FILE_NAME)
    api.create_device(
        "d", profile, token=TOKEN, firmwareId=entity_id("OTA_PACKAGE", package["id"]["id"])
    )
    api.create_device("none", profile, token=NO_PACKAGE_TOKEN)
    return server


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    fast = _serve(tmp_path_factory.mktemp("fast"))
    try:
        routed = _serve(tmp_path_factory.mktemp("routed"), OTAKIT_INJECT_FAULTS="stale_keys_kept")
        try:
            yield fast.url, routed.url
        finally:
            routed.stop()
    finally:
        fast.stop()


def _q(**params: object) -> str:
    return str(httpx.QueryParams({"title": TITLE, "version": VERSION, **params}))


REQUESTS = [
    f"/api/v1/{TOKEN}/firmware?{_q(size=4096, chunk=0)}",
    f"/api/v1/{TOKEN}/firmware?{_q(size=4096, chunk=2)}",  # the short last chunk
    f"/api/v1/{TOKEN}/firmware?{_q(size=4096, chunk=3)}",  # past the end: empty
    f"/api/v1/{TOKEN}/firmware?{_q(size=1, chunk=9999)}",
    f"/api/v1/{TOKEN}/firmware?{_q(size=65536)}",  # no chunk: chunk 0
    f"/api/v1/{TOKEN}/firmware?{_q(size=65537)}",  # larger: the route's stream
    f"/api/v1/{TOKEN}/firmware?{_q(size=0)}",  # the whole file
    f"/api/v1/{TOKEN}/firmware?{_q(size=100, chunk='0003')}",
    f"/api/v1/{TOKEN}/firmware?{_q(size=100, chunk=-1)}",
    f"/api/v1/{TOKEN}/firmware?{_q(size='x', chunk=1)}",
    f"/api/v1/{TOKEN}/firmware?{_q(size='', chunk=1)}",
    f"/api/v1/{TOKEN}/firmware?{_q(size=100, chunk=ARABIC_ONE)}",  # not an ASCII digit
    f"/api/v1/{TOKEN}/firmware?size=100&chunk=1&title=fw&{_q()}",  # the last title wins
    f"/api/v1/{TOKEN}/firmware?{_q(size=100, chunk=1)}&title=other",
    f"/api/v1/{TOKEN}/firmware?title=fw%2B%C3%A4+one&version=1.0&size=100&chunk=1",
    f"/api/v1/{TOKEN}/firmware?version={VERSION}&size=100&chunk=1",  # no title
    f"/api/v1/{TOKEN}/firmware?{_q(version='1.1', size=100, chunk=1)}",
    f"/api/v1/{TOKEN}/firmware?{_q(size=100, chunk=1)}&x=%00",
    f"/api/v1/{TOKEN}/software?{_q(size=100, chunk=1)}",  # no software assigned
    f"/api/v1/{NO_PACKAGE_TOKEN}/firmware?{_q(size=100, chunk=1)}",
    f"/api/v1/unknown-token/firmware?{_q(size=100, chunk=1)}",
    f"/api/v1/{'x' * 300}/firmware?{_q(size=100, chunk=1)}",
]


def _comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], Any]:
    # The whole file (the route on both) names the blob file's own time, not the same on both.
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in VARYING]
    body: Any = response.content
    if response.headers.get("content-type") == "application/json":
        body = {k: v for k, v in json.loads(body).items() if k != "timestamp"}
    return response.status_code, headers, body


@pytest.mark.parametrize("path", REQUESTS)
def test_the_fast_path_answers_as_the_route_does(servers: tuple[str, str], path: str) -> None:
    fast, routed = servers
    with httpx.Client() as client:
        answers = [_comparable(client.get(url + path)) for url in (fast, routed)]
    assert answers[0] == answers[1]


def test_chunks_of_the_fast_path_make_the_file(servers: tuple[str, str]) -> None:
    fast, _ = servers
    with httpx.Client(base_url=fast) as client:
        pieces = [
            client.get(f"/api/v1/{TOKEN}/firmware?{_q(size=1000, chunk=n)}").content
            for n in range(11)
        ]
    assert b"".join(pieces) == DATA and pieces[-1] == b""


# Which requests it answers itself, with a fake device API: the others reach the routes.


class _FakeApi:
    def __init__(self, data: bytes) -> None:
        self.package = SimpleNamespace(
            id=1, title="fw", version="1.0", content_type=None, download_name="fw.bin"
        )
        self._data = data
        self.lookups = 0

    async def download_target(self, token: str, kind: OtaPackageType) -> tuple[None, Any]:
        self.lookups += 1
        if token != "good":
            raise Unauthorized("Invalid device access token")
        return None, self.package if kind is OtaPackageType.FIRMWARE else None

    def data_of(self, package: Any) -> Any:
        return SimpleNamespace(package=package, size=len(self._data))

    async def read(self, data: Any, start: int, end: int) -> Any:
        yield self._data[start:end]


def _call(path: str, query: str) -> tuple[bool, list[dict[str, Any]], int]:
    """(passed on to the routes, what was sent, lookups made)."""
    api = _FakeApi(bytes(range(256)) * 4)
    routed: list[bool] = []

    async def routes(scope: Any, receive: Any, send: Any) -> None:
        routed.append(True)

    metrics = SimpleNamespace(chunk_served=lambda transport, seconds: None)
    app = SimpleNamespace(
        state=SimpleNamespace(services=SimpleNamespace(device_api=api), metrics=metrics)
    )
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "app": app,
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    asyncio.run(ChunkFastPath(routes)(scope, receive, send))
    return bool(routed), sent, api.lookups


def test_a_chunk_is_answered_without_the_routes() -> None:
    routed, sent, _ = _call("/api/v1/good/firmware", "title=fw&version=1.0&size=100&chunk=2")
    assert not routed
    assert sent[0]["status"] == 200
    assert dict(sent[0]["headers"])[b"content-length"] == b"100"
    assert sent[1]["body"] == (bytes(range(256)) * 4)[200:300]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/good/firmware", "title=fw&version=1.0&size=0&chunk=2"),
        ("/api/v1/good/firmware", "title=fw&version=1.0"),
        ("/api/v1/good/firmware", "title=fw&version=1.0&size=65537"),
        ("/api/v1/good/firmware", "title=fw&version=2.0&size=100"),
        ("/api/v1/good/firmware", "version=1.0&size=100"),
        ("/api/v1/good/firmware", "title=fw&version=1.0&size=1e3"),
        ("/api/v1/good/software", "title=fw&version=1.0&size=100"),
        ("/api/v1/good/firmware/x", "title=fw&version=1.0&size=100"),
        ("/api/v1/good/attributes", "title=fw&version=1.0&size=100"),
    ],
)
def test_what_it_does_not_answer_goes_to_the_routes(path: str, query: str) -> None:
    routed, sent, _ = _call(path, query)
    assert routed and not sent


def test_an_unknown_token_gets_the_error_shape_after_one_lookup() -> None:
    routed, sent, lookups = _call("/api/v1/bad/firmware", "title=fw&version=1.0&size=100")
    assert not routed and lookups == 1
    assert sent[0]["status"] == 401
    body = json.loads(sent[1]["body"])
    assert body["status"] == 401 and body["message"] == "Invalid device access token"
