"""The suite against a default `otakit serve --demo`, as a QA engineer runs it from the docs.

No flag about the target's limits or pace: the suite's defaults must fit a default otakit. And
whatever the outcome, the tenant ends as it began, unless --keep says otherwise.
"""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.test_suite import CHECKS, conformance
from tests.support.api import Api
from tests.support.process import ServerProcess, start_server

TENANT = ("tenant@thingsboard.org", "tenant")
SYSADMIN = ("sysadmin@thingsboard.org", "sysadmin")
DEMO_URL = "http://localhost:8080"
DOCS_COMMAND = f"otakit conformance --url {DEMO_URL} "
LISTS = ("/api/tenant/devices", "/api/otaPackages", "/api/deviceProfiles", "/api/customers")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("demo"), extra_args=("--demo",))
    try:
        yield server
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def inventory(server: ServerProcess) -> dict[str, list[str]]:
    """Every device, package, profile and customer of the demo tenant, and every tenant."""
    found: dict[str, list[str]] = {}
    for (username, password), paths in ((TENANT, LISTS), (SYSADMIN, ("/api/tenants",))):
        api = Api.login(server.url, username, password)
        for path in paths:
            page = api.get(path, params={"pageSize": 10000, "page": 0})
            assert not page["hasNext"]
            found[path] = sorted(entity["id"]["id"] for entity in page["data"])
    return found


def docs_command() -> list[str]:
    """The arguments of docs/conformance.md's command against a demo on localhost (the docs
    test leaves that block to this module)."""
    text = (Path(__file__).parents[2] / "docs" / "conformance.md").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith(DOCS_COMMAND))
    return shlex.split(line)[2:]


def against(
    server: ServerProcess, tmp_path: Path, *args: str
) -> tuple[int, str, ElementTree.Element]:
    """docs/conformance.md's command for a demo on localhost, with this server's ports."""
    report = tmp_path / "report.xml"
    command = [server.url if arg == DEMO_URL else arg for arg in docs_command()]
    result = conformance(
        *command,
        *("--mqtt", f"127.0.0.1:{server.mqtt_port}", "--coap", f"127.0.0.1:{server.coap_port}"),
        *("--junitxml", str(report)),
        *args,
        cwd=tmp_path,
    )
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite is not None, result.stdout[-3000:]
    return result.returncode, result.stdout, suite


def test_the_suite_passes_against_a_default_demo_and_cleans_up(
    demo: ServerProcess, tmp_path: Path
) -> None:
    before = inventory(demo)
    code, out, suite = against(demo, tmp_path)
    assert code == 0, out[-6000:]
    assert int(suite.get("tests", "0")) >= 80 and suite.get("failures") == "0"
    cleanup = out.split("conformance by area")[1]
    assert "cleanup: deleted" in cleanup and "could not delete" not in cleanup
    assert inventory(demo) == before


def test_a_failed_run_cleans_up_too_tenants_included(demo: ServerProcess, tmp_path: Path) -> None:
    before = inventory(demo)
    # A limit the target does not have makes the oversized-chunk check fail; the isolation
    # check makes a tenant of its own with the system administrator.
    code, out, suite = against(
        demo,
        tmp_path,
        *("--sysadmin-username", SYSADMIN[0], "--sysadmin-password", SYSADMIN[1]),
        *("--mqtt-max-chunk", "1000", "--"),
        *(str(CHECKS / "test_errors.py"), str(CHECKS / "test_isolation.py")),
        *("-k", "oversized or tenant"),
    )
    # The oversized-chunk check fails on MQTT 3.1.1 and 5, for firmware and software.
    assert code == 1 and suite.get("failures") == "4", out[-3000:]
    assert suite.get("skipped") == "0"  # the tenant check ran
    assert "tenant" in out.split("cleanup: deleted")[1].splitlines()[0]
    assert inventory(demo) == before


def test_keep_keeps_what_the_checks_made(demo: ServerProcess, tmp_path: Path) -> None:
    before = inventory(demo)
    code, out, _ = against(
        demo, tmp_path, "--keep", "--", str(CHECKS / "test_errors.py"), "-k", "assigned or url"
    )
    assert code == 0, out[-3000:]
    after = inventory(demo)
    for path in ("/api/tenant/devices", "/api/otaPackages", "/api/deviceProfiles"):
        assert set(before[path]) < set(after[path]), path
    assert "cleanup:" not in out


def test_thingsboard_expects_thingsboards_chunk_limit(demo: ServerProcess, tmp_path: Path) -> None:
    # otakit serves chunks up to 1 MiB: told the target is ThingsBoard (64 KiB), the suite
    # expects 65537 bytes to be refused, which otakit does not; given the limit, it passes.
    chunks = ("--", str(CHECKS / "test_errors.py"), str(CHECKS / "test_chunks.py"))
    selection = ("-k", "oversized or largest")
    code, out, suite = against(demo, tmp_path, "--thingsboard", *chunks, *selection)
    # Each of the two checks on MQTT 3.1.1 and 5, firmware and software; the oversized one fails.
    assert (code, suite.get("tests"), suite.get("failures")) == (1, "8", "4"), out[-3000:]
    assert "test_oversized_chunk[mqtt3-fw]: [rule error.mqtt-payload-too-large §6.2]" in out
    code, out, _ = against(
        demo, tmp_path, "--thingsboard", "--mqtt-max-chunk", str(1024 * 1024), *chunks, *selection
    )
    assert code == 0, out[-3000:]
