"""The OpenAPI document and the server agree: schemathesis proves it in both directions.

schemathesis (`st run`) reads /openapi.json, sends what the document allows and what it forbids,
follows the document's links from answers to the next operations, and checks every answer
against the document. Each run gets a server of its own (`otakit serve --demo`): the system
administrator's run deletes tenants and users, the tenant administrator's changes device tokens.

Operations that end the caller's session (logout, a password change) run apart, on throwaway
credentials; the long poll, which waits up to a minute by design, is called directly. Deleting
oneself is refused (400, a rule of state) and a tenant administrator cannot delete tenants, so
those stay in the main runs. Set OTAKIT_SCHEMATHESIS_SEED to explore other inputs than CI does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from otatarget import rest
from tests.conftest import TenantContext, activate, database_for
from tests.support.api import Api, assert_error
from tests.support.process import ServerProcess, start_server

ROOT = Path(__file__).resolve().parents[2]
SYSADMIN = ("sysadmin@thingsboard.org", "sysadmin")
TENANT_ADMIN = ("tenant@thingsboard.org", "tenant")
DEMO_DEVICE, DEMO_TOKEN = "Thermostat T1", "demo-token-t1"
SEED = int(os.environ.get("OTAKIT_SCHEMATHESIS_SEED", "20261202"))
# Cases per operation and phase: enough to reach every parameter's bounds, within minutes here.
MAX_EXAMPLES = 20
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    # positive_data_acceptance, forgiving only 400s of rules no schema can state
    # (tests/support/openapi_checks.py).
    "positive_data_acceptance_but_rules_of_state",
    "unsupported_method",
    "allow_header_conformance",
    "missing_required_header",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
)
SESSION_ENDERS = ("/api/auth/logout", "/api/auth/changePassword")
LONG_POLL = "/api/v1/{token}/attributes/updates"
# A stream that lasts until the client leaves: schemathesis would wait for its end forever.
# tests/server/console/test_live_feed.py checks it instead.
LIVE_FEED = "/api/ota/dashboard/events"
CONFIG = """
[cache]
enabled = false
[phases.stateful]
max-steps = 12
[phases.stateful.inference]
# The document's own links say where ids go (ThingsBoard's ids are objects, which schemathesis's
# inference would pass whole as path parameters).
algorithms = []
"""


@contextmanager
def demo_server_on(backend: str, work: Path) -> Iterator[ServerProcess]:
    with ExitStack() as stack:
        server = start_server(
            work,
            database_for(backend, stack),
            ("--demo", "--mqtt-port", "0", "--coap-port", "0"),
            # Thousands of bad logins from one address must not lock the accounts out.
            env={"OTAKIT_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000"},
        )
        try:
            yield server
        finally:
            server.stop()
            assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """On SQLite: what these tests check is the document, which the database does not change."""
    with demo_server_on("sqlite", tmp_path / "server") as server:
        yield server


def login(server: ServerProcess, user: tuple[str, str]) -> str:
    return rest.login(server.url, *user)


def run_schemathesis(
    server: ServerProcess, token: str, work: Path, options: tuple[str, ...]
) -> dict[str, Any]:
    """One `st run`, whose JSON report must show no failure and no error."""
    work.mkdir(parents=True, exist_ok=True)
    config, report = work / "schemathesis.toml", work / "report.json"
    config.write_text(CONFIG)
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
        server.url + "/openapi.json",
        *("--header", f"X-Authorization: Bearer {token}"),
        *("--checks", ",".join(CHECKS)),
        *("--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1"),
        *("--generation-database", "none", "--request-timeout", "30"),
        *("--report", "json", "--report-json-path", str(report), "--no-color"),
        *options,
    ]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.support.openapi_checks",
        "PYTHONPATH": str(ROOT),
    }
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900
    )
    result: dict[str, Any] = json.loads(report.read_text())
    cases = result["test_cases"]
    print(
        f"schemathesis: {result['operations']['tested']} operations, {cases['generated']} "
        f"cases, {cases['with_failures']} failing, {len(result['errors'])} errors, "
        f"{time.monotonic() - started:.0f} s"
    )
    assert done.returncode == 0 and not result["failures"] and not result["errors"], done.stdout
    return result


@pytest.mark.parametrize(
    ("backend", "user"),
    [("sqlite", TENANT_ADMIN), ("sqlite", SYSADMIN), ("postgresql", TENANT_ADMIN)],
    # The system administrator's run reaches little storage of its own (tenants and users):
    # on PostgreSQL it would add minutes and little else.
    ids=["sqlite-tenant_admin", "sqlite-sysadmin", "postgresql-tenant_admin"],
)
def test_every_operation_conforms(backend: str, user: tuple[str, str], tmp_path: Path) -> None:
    skipped = (*SESSION_ENDERS, LONG_POLL, LIVE_FEED)
    excluded = [item for path in skipped for item in ("--exclude-path", path)]
    with demo_server_on(backend, tmp_path / "server") as server:
        result = run_schemathesis(server, login(server, user), tmp_path / "run", tuple(excluded))
    assert result["operations"]["tested"] == result["operations"]["selected"] >= 60


@pytest.mark.parametrize("user", [TENANT_ADMIN, SYSADMIN], ids=["tenant_admin", "sysadmin"])
def test_session_ending_operations_conform(
    demo_server: ServerProcess, user: tuple[str, str], tmp_path: Path
) -> None:
    """Each on a throwaway login of its own: its first success ends the session the run
    uses, and every later call is a documented 401."""
    for path in SESSION_ENDERS:
        work = tmp_path / path.rsplit("/", 1)[-1]
        options = ("--include-path", path, "--phases", "examples,coverage,fuzzing")
        run_schemathesis(demo_server, login(demo_server, user), work, options)


def test_session_ending_successes_conform(demo_server: ServerProcess) -> None:
    """What fuzzing cannot reach (it does not know the password): a password change and a
    logout that succeed, by a throwaway tenant administrator, checked against the document."""
    sysadmin = Api(demo_server.url, login(demo_server, SYSADMIN))
    tenant = sysadmin.post("/api/tenant", {"title": "throwaway"})
    email = "throwaway@otakit.test"
    user = sysadmin.post(
        "/api/user",
        {"email": email, "authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
        params={"sendActivationMail": "false"},
    )
    throwaway = activate(sysadmin, user["id"]["id"], email, "throwaway-1")
    schema = schemathesis.openapi.from_url(demo_server.url + "/openapi.json")
    change = schema["/api/auth/changePassword"]["POST"].Case(
        headers={"X-Authorization": f"Bearer {throwaway.token}"},
        body={"currentPassword": "throwaway-1", "newPassword": "throwaway-2"},
    )
    answer = change.call(base_url=demo_server.url)
    assert answer.status_code == 200, answer.text
    change.validate_response(answer)
    logout = schema["/api/auth/logout"]["POST"].Case(
        headers={"X-Authorization": f"Bearer {answer.json()['token']}"}
    )
    answer = logout.call(base_url=demo_server.url)
    assert answer.status_code == 200, answer.text
    logout.validate_response(answer)


def test_long_poll_conforms(demo_server: ServerProcess) -> None:
    """An update and a timeout, each checked against the document."""
    tenant = Api(demo_server.url, login(demo_server, TENANT_ADMIN))
    device = tenant.get("/api/tenant/devices", params={"deviceName": DEMO_DEVICE})
    schema = schemathesis.openapi.from_url(demo_server.url + "/openapi.json")
    operation = schema[LONG_POLL]["GET"]
    timeout = operation.Case(path_parameters={"token": DEMO_TOKEN}, query={"timeout": 100})
    answer = timeout.call(base_url=demo_server.url)
    assert answer.status_code == 408, answer.text
    timeout.validate_response(answer)

    update = operation.Case(path_parameters={"token": DEMO_TOKEN}, query={"timeout": 20_000})
    answers: list[Any] = []
    poll = threading.Thread(target=lambda: answers.append(update.call(base_url=demo_server.url)))
    poll.start()
    time.sleep(1)  # the poll is waiting
    path = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/SHARED_SCOPE"
    tenant.post(path, {"target": 1})
    poll.join(30)
    assert answers and answers[0].status_code == 200, answers
    update.validate_response(answers[0])


def test_a_method_a_path_lacks_is_405_listing_the_paths_methods(tenant: TenantContext) -> None:
    http = tenant.api.http
    device = tenant.api.create_device("d")["id"]["id"]
    answer = http.put(f"/api/device/{device}")
    assert_error(answer, 405)
    assert answer.headers["Allow"] == "DELETE, GET, HEAD"
    # A literal path answers every method itself: "devices" is no tenant id to DELETE.
    answer = http.delete("/api/tenant/devices")
    assert_error(answer, 405)
    assert answer.headers["Allow"] == "GET, HEAD"


def test_profile_fields_are_checked_not_echoed(tenant: TenantContext) -> None:
    """ThingsBoard's fields keep their types; others are dropped, as ThingsBoard drops them."""
    api = tenant.api
    for field, value in [("provisionType", 5), ("transportType", "PIGEON"), ("image", {})]:
        answer = api.http.post("/api/deviceProfile", json={"name": "p", field: value})
        assert_error(answer, 400, field)
    saved = api.post("/api/deviceProfile", {"name": "p", "transportType": "MQTT", "x": [1]})
    assert saved["transportType"] == "MQTT" and "x" not in saved
