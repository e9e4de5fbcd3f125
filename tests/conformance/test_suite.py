"""The conformance suite passes against otakit, and catches faults injected into it."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest


def conformance(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otaserver.cli", "conformance", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_suite_passes_against_otakit(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    result = conformance("--start-local", "--junitxml", str(report))
    assert result.returncode == 0, result.stdout[-4000:]
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) >= 30
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert "conformance by area" in result.stdout
    assert "ok   Chunked downloads (HTTP, MQTT, CoAP)" in result.stdout


def test_a_thingsboard_run_leaves_out_otakits_extensions(tmp_path: Path) -> None:
    result = conformance(
        "--start-local",
        "--thingsboard",
        "--junitxml",
        str(tmp_path / "r.xml"),
        "--",
        "-k",
        "statuses or on_target",
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed, 31 deselected" in result.stdout  # the two extensions went with -m


# Each fault breaks one rule; the checks named must fail, and say which rule broke.
FAULTS = [
    ("crc32_big_endian", "test_checksums.py", "computed and CRC32", "[rule §5] CRC32"),
    ("chunk_index_as_offset", "test_chunks.py", "mqtt", "[rule §6.2] chunk index counts"),
    ("no_deleted_push", "test_attributes.py", "", "[rule §2.1] unassignment tells the device"),
    ("profile_overrides_device", "test_assignment.py", "overrides", "[rule §4.1]"),
    ("pack_size_exceeded", "test_queue.py", "pace", "[rule §4.3] at most 10 notifications"),
    ("no_empty_past_end", "test_chunks.py", "http", "[rule §6.3] past the end"),
    ("title_not_checked", "test_errors.py", "mismatch", "[rule §6.3] a title/version"),
    ("wrong_checksum_accepted", "test_checksums.py", "wrong", "[rule §4.5] a supplied checksum"),
    ("title_editable", "test_packages.py", "fixed", "[rule §4.5] the title cannot change"),
    ("no_queued_telemetry", "test_queue.py", "queued_and_target", "[rule §2.2]"),
    ("bad_token_accepted", "test_errors.py", "bad_token", "[rule §6.2] an unknown token"),
    ("other_tenant_visible", "test_isolation.py", "tenant", "[rule §7] another tenant"),
    ("size_as_text", "test_queue.py", "queued_and_target", "[rule §2.1] fw_size is a JSON"),
]


@pytest.mark.parametrize(
    ("fault", "module", "selection", "message"), FAULTS, ids=[fault[0] for fault in FAULTS]
)
def test_the_suite_catches_an_injected_fault(
    tmp_path: Path, fault: str, module: str, selection: str, message: str
) -> None:
    checks = Path(__file__).parents[2] / "conformance" / "otaconformance" / "checks" / module
    extra = ["-k", selection] if selection else []
    result = conformance(
        "--start-local",
        "--junitxml",
        str(tmp_path / "r.xml"),
        "--",
        str(checks),
        "--local-faults",
        fault,
        *extra,
    )
    assert result.returncode != 0, f"{fault} went unnoticed:\n{result.stdout[-3000:]}"
    assert message in result.stdout, result.stdout[-3000:]
