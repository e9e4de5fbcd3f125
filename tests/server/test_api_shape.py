"""One error shape for every error, and an OpenAPI document of every route."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from otaserver.api.metrics import PATH as METRICS_PATH
from otaserver.app import create_app
from otaserver.settings import load_settings
from tests.conftest import TenantContext
from tests.support.api import assert_error
from tests.support.process import ServerProcess


def test_unknown_route_and_method(server: ServerProcess) -> None:
    assert_error(httpx.get(server.url + "/api/nothing-here"), 404)
    assert_error(httpx.put(server.url + "/api/auth/login"), 405)


def test_malformed_bodies_and_ids(tenant: TenantContext) -> None:
    http = tenant.api.http
    assert_error(
        http.post(
            "/api/device", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        400,
        "not JSON",
    )
    assert_error(http.post("/api/device", json=["a", "list"]), 400, "JSON object")
    assert_error(http.post("/api/device", json={"name": 42}), 400, "'name' must be a string")
    assert_error(http.get("/api/device/not-a-uuid"), 400, "Invalid UUID")
    assert_error(
        http.post(
            "/api/device",
            json={
                "name": "d",
                "deviceProfileId": {"entityType": "DEVICE", "id": tenant.default_profile_id},
            },
        ),
        400,
        "DEVICE_PROFILE",
    )


def test_every_route_is_in_the_openapi_document(server: ServerProcess) -> None:
    document = httpx.get(server.url + "/openapi.json").json()
    assert document["openapi"].startswith("3.")
    app = create_app(load_settings({}, {}))
    served = {
        (route.path, method.lower())
        for route in app.routes
        # The document itself, Prometheus's scrape and the console's page: no API operations.
        if isinstance(route, Route) and route.path not in {"/openapi.json", METRICS_PATH, "/"}
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert served == documented
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"], (path, method)
            assert "200" in operation["responses"]
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == set(path.replace("}", "{").split("{")[1::2])


def test_openapi_references_resolve(server: ServerProcess) -> None:
    document = httpx.get(server.url + "/openapi.json").json()
    schemas = document["components"]["schemas"]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                assert ref.removeprefix("#/components/schemas/") in schemas, ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
