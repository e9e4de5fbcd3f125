"""The pytest plugin of the suite: options naming the target, fixtures, a summary per area."""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from . import expected, local
from .rules import catalogue
from .target import OTAKIT_MQTT_MAX_CHUNK, THINGSBOARD_MQTT_MAX_CHUNK, Target

AREAS = {
    "test_packages": "REST package lifecycle and rules",
    "test_checksums": "Checksum text (7 algorithms)",
    "test_assignment": "Assignment and the effective package",
    "test_queue": "QUEUED, INITIATED and the pace",
    "test_attributes": "Attribute pushes, requests, deletions",
    "test_chunks": "Chunked downloads (HTTP, MQTT, CoAP)",
    "test_errors": "Errors",
    "test_isolation": "Isolation of devices and tenants",
    "test_statuses": "Status reporting and history",
    "test_model": "Stateful model of the rules",
    "test_roles": "REST role matrix",
    "test_downloads": "REST downloads and Range",
    "test_audit": "Audit of package actions",
}
RULE = re.compile(r"\[rule [^\]]+\][^\n]*")
NO_SHRINK = "otaconformance-no-shrink"
CLEANUP = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("otaconformance", "the OTA server under test")
    group.addoption("--server-url", help="REST and HTTP device API, e.g. http://host:8080")
    group.addoption("--mqtt", default=None, help="MQTT host:port (default: the URL's host:1883)")
    group.addoption("--coap", default=None, help="CoAP host:port (default: the URL's host:5683)")
    group.addoption("--username", default="tenant@thingsboard.org", help="a tenant administrator")
    group.addoption("--password", default="tenant")
    group.addoption(
        "--sysadmin-username",
        default=None,
        help="a system administrator, for the checks between tenants",
    )
    group.addoption("--sysadmin-password", default=None)
    group.addoption(
        "--jwt-signing-key",
        default=None,
        help="the key the target signs its tokens with (otakit: OTAKIT_JWT_SECRET; "
        "`base64:...` for ThingsBoard's JWT_TOKEN_SIGNING_KEY), for the expired-token checks",
    )
    group.addoption("--pack-size", type=int, default=100, help="the target's pack size")
    group.addoption(
        "--pack-interval-ms", type=int, default=60000, help="the target's pack interval"
    )
    group.addoption(
        "--mqtt-max-chunk",
        type=int,
        default=None,
        help=f"the largest MQTT chunk the target serves (default: otakit's "
        f"{OTAKIT_MQTT_MAX_CHUNK}, with --thingsboard ThingsBoard's {THINGSBOARD_MQTT_MAX_CHUNK})",
    )
    group.addoption(
        "--thingsboard",
        action="store_true",
        help="the target is ThingsBoard: leave out the checks marked otakit_extension, and "
        "expect its limits (the largest MQTT chunk) unless given",
    )
    group.addoption(
        "--keep",
        action="store_true",
        help="keep the devices, packages, profiles and tenants the checks created "
        "(by default they are deleted at the end of the run, failed or not)",
    )
    group.addoption(
        "--notify-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the queue to notify a device",
    )
    group.addoption(
        "--no-shrink",
        action="store_true",
        help="report a property's first failing example without shrinking it (faster)",
    )
    group.addoption(
        "--expected-failures",
        default=None,
        help="a file of the checks this target is known to fail, one per line with the reason "
        "after #; strict: a listed check that passes fails the run",
    )
    group.addoption(
        "--start-local", action="store_true", help="start otakit's own server for the run"
    )
    group.addoption(
        "--local-database-url",
        default="",
        help="with --start-local: the database it runs on (default: SQLite)",
    )
    group.addoption(
        "--local-faults",
        default="",
        help="with --start-local: faults to inject into it (for testing the suite)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "otakit_extension: beyond ThingsBoard; -m 'not otakit_extension' leaves it out"
    )
    config.addinivalue_line(
        "markers",
        "rules(*ids, kinds=(), transports=(), roles=()): the rules a check proves (ids of "
        "otaconformance.ruledata), and what its body covers beyond its parameters",
    )
    if config.getoption("no_shrink"):
        # Each shrinking step runs against the server: minutes, when a property fails.
        phases = [phase for phase in Phase if phase is not Phase.shrink]
        settings.register_profile(NO_SHRINK, phases=phases)
        settings.load_profile(NO_SHRINK)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    known = catalogue()
    for item in items:
        for marker in item.iter_markers("rules"):
            unknown = [rule_id for rule_id in marker.args if rule_id not in known]
            if unknown:
                raise pytest.UsageError(f"{item.nodeid} names unknown rules {unknown}")
    expected_failures = config.getoption("expected_failures")
    if expected_failures:
        expected.mark(items, Path(expected_failures))
    if not config.getoption("thingsboard"):
        return
    kept = [item for item in items if item.get_closest_marker("otakit_extension") is None]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def signing_key(given: str | None) -> bytes | None:
    """The target's token signing key from its option: text, or `base64:` and its bytes."""
    if not given:
        return None
    if given.startswith("base64:"):
        return base64.b64decode(given.removeprefix("base64:"))
    return given.encode()


def _host_port(value: str | None, default_host: str, default_port: int) -> tuple[str, int]:
    if not value:
        return default_host, default_port
    host, _, port = value.rpartition(":")
    return host or default_host, int(port)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    option = request.config.getoption
    server = None
    if option("start_local"):
        server, local_key = local.start(option("local_faults"), option("local_database_url"))
        jwt_key: bytes | None = local_key
        url, mqtt, coap = server.url, server.mqtt, server.coap
        username, password = server.tenant_admin
        sysadmin: tuple[str, str] | None = server.sysadmin
        pack_size, pack_interval = local.PACK_SIZE, local.PACK_INTERVAL_MS
        max_chunk = local.MQTT_MAX_CHUNK
    else:
        url = option("server_url")
        if not url:
            raise pytest.UsageError("give --server-url (or --start-local)")
        mqtt, coap = option("mqtt"), option("coap")
        username, password = option("username"), option("password")
        sysadmin = None
        jwt_key = signing_key(option("jwt_signing_key"))
        if option("sysadmin_username"):
            sysadmin = (option("sysadmin_username"), option("sysadmin_password"))
        pack_size, pack_interval = option("pack_size"), option("pack_interval_ms")
        max_chunk = option("mqtt_max_chunk") or (
            THINGSBOARD_MQTT_MAX_CHUNK if option("thingsboard") else OTAKIT_MQTT_MAX_CHUNK
        )
    host = re.sub(r"^\w+://([^:/]+).*$", r"\1", url)
    mqtt_host, mqtt_port = _host_port(mqtt, host, 1883)
    coap_host, coap_port = _host_port(coap, host, 5683)
    try:
        found = Target(
            url.rstrip("/"),
            mqtt_host,
            mqtt_port,
            coap_host,
            coap_port,
            username,
            password,
            sysadmin,
            pack_size,
            pack_interval,
            max_chunk,
            option("notify_timeout"),
            jwt_key,
        )
        try:
            yield found
        finally:
            # After every check, failed or not; --start-local throws its server away anyway.
            if server is None and not option("keep"):
                request.config.stash[CLEANUP] = found.clean_up()
            found.close()
    finally:
        if server is not None:
            server.stop()


@pytest.fixture
def profile(target: Target) -> str:
    """A new device profile, so that each check's assignments touch only its own devices."""
    return target.profile()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line per area (ok or FAIL, with counts), and under it each failure's broken rule."""
    outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    failures: dict[str, list[str]] = defaultdict(list)
    for outcome in ("passed", "failed", "error", "skipped", "xfailed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            area = AREAS.get(Path(str(report.nodeid).split("::")[0]).stem)
            if area is None:
                continue
            outcomes[area][outcome] += 1
            if outcome in ("failed", "error"):
                message = str(getattr(report, "longreprtext", ""))
                found = RULE.search(message)
                last_line = (message.strip().splitlines() or [""])[-1][:200]
                if message.startswith(expected.XPASS):
                    last_line = f"{expected.FIXED} ({message.removeprefix(expected.XPASS).strip()})"
                failures[area].append(
                    f"{report.nodeid.split('::')[-1]}: {found.group(0) if found else last_line}"
                )
    if not outcomes:
        return
    terminalreporter.section("conformance by area")
    for area in AREAS.values():
        if area in outcomes:
            counts = outcomes[area]
            verdict = "FAIL" if counts["failed"] or counts["error"] else "ok"
            expected_failures = (
                f", {counts['xfailed']} expected to fail" if counts["xfailed"] else ""
            )
            terminalreporter.write_line(
                f"{verdict:4} {area}: {counts['passed']} passed, "
                f"{counts['failed'] + counts['error']} failed, {counts['skipped']} skipped"
                f"{expected_failures}"
            )
            for failure in failures[area]:
                terminalreporter.write_line(f"       {failure}")
    if CLEANUP in config.stash:
        terminalreporter.write_line(config.stash[CLEANUP])
