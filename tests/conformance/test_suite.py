"""The conformance suite passes against otakit, and catches faults injected into it."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import database_for

CHECKS = Path(__file__).parents[2] / "conformance" / "otaconformance" / "checks"
EXTENSIONS = (
    "test_devices_already_on_target_are_not_notified",
    "test_otakit_history_and_dashboard",
    "test_coap_past_the_end_and_the_api_path",
)


def conformance(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otaserver.cli", "conformance", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


# On PostgreSQL only: tests/docs runs docs/conformance.md, whose `otakit conformance
# --start-local` is this very run on SQLite, and CI need not spend two minutes on it twice.
@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_suite_passes_against_otakit(tmp_path: Path, backend: str) -> None:
    report = tmp_path / "report.xml"
    with ExitStack() as stack:
        database = database_for(backend, stack)
        result = conformance(
            "--start-local", "--local-database-url", database, "--junitxml", str(report)
        )
    assert result.returncode == 0, result.stdout[-6000:]
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) >= 80
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")
    summary = result.stdout.split("conformance by area")[1]
    for area in ("REST package lifecycle", "Chunked downloads", "Stateful model of the rules"):
        assert f"ok   {area}" in summary


def collected(*args: str) -> str:
    result = conformance("--url", "http://unused.invalid", *args, "--", "--collect-only")
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def test_a_thingsboard_run_leaves_out_otakits_extensions() -> None:
    everything, thingsboard = collected(), collected("--thingsboard")
    for name in EXTENSIONS:
        assert name in everything and name not in thingsboard
    assert "test_chunk_slices" in thingsboard and "test_assignment_model" in thingsboard


def test_a_failure_exits_non_zero_and_names_its_rule(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    result = conformance(
        "--start-local",
        "--no-shrink",
        "--junitxml",
        str(report),
        "--",
        str(CHECKS / "test_checksums.py"),
        "--local-faults",
        "crc32_big_endian",
    )
    assert result.returncode == 1
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") != "0"
    summary = result.stdout.split("conformance by area")[1]
    assert "FAIL Checksum text (7 algorithms)" in summary
    assert (
        "test_computed_checksum_text[fw-CRC32]: [rule checksum.crc32-le §5] CRC32 text" in summary
    )


# Each fault breaks one rule; the checks named must fail, and say which rule broke.
FAULTS = [
    ("crc32_big_endian", "test_checksums.py", "computed and CRC32", "[rule checksum.crc32-le §5]"),
    ("chunk_index_as_offset", "test_chunks.py", "slices and mqtt", "[rule chunk.slice §6.2]"),
    (
        "no_deleted_push",
        "test_attributes.py",
        "push_request and mqtt5-fw",
        "[rule attribute.deleted-on",
    ),
    ("profile_overrides_device", "test_assignment.py", "overrides", "[rule assignment.own-wins"),
    ("pack_size_exceeded", "test_queue.py", "pace", "[rule queue.pace §4.3"),
    ("no_empty_past_end", "test_chunks.py", "slices and http", "[rule chunk.past-end-empty"),
    ("title_not_checked", "test_errors.py", "mismatch", "[rule error.title-version-mismatch"),
    ("wrong_checksum_accepted", "test_checksums.py", "wrong", "[rule checksum.mismatch-refused"),
    ("title_editable", "test_packages.py", "fixed", "[rule package.fixed-fields §4.5]"),
    ("no_queued_telemetry", "test_queue.py", "queued_and_target", "[rule queue.queued-telemetry"),
    ("bad_token_accepted", "test_errors.py", "bad_token", "[rule error.bad-token"),
    ("other_tenant_visible", "test_isolation.py", "tenant", "[rule isolation.tenant-entities"),
    ("size_as_text", "test_queue.py", "queued_and_target", "[rule queue.attributes-announced"),
    ("checksum_unpadded", "test_checksums.py", "zeros", "[rule checksum.zero-padded §5]"),
    ("stale_not_skipped", "test_queue.py", "stale", "[rule queue.stale-skipped §4.4]"),
    ("requeued_unchanged", "test_queue.py", "unchanged", "[rule queue.unchanged-not-queued"),
    ("size_not_reused", "test_chunks.py", "reused", "[rule chunk.mqtt-size-reused §6.2]"),
    ("request_not_pinned", "test_chunks.py", "pinned", "[rule chunk.mqtt-request-pinned"),
    ("stale_keys_kept", "test_attributes.py", "previous", "[rule attribute.deleted-stale-keys"),
    # The stateful model finds these by itself, from random sequences of steps; which of the rules
    # it checks trips first depends on the sequence.
    ("profile_overrides_device", "test_model.py", "", "test_assignment_model: [rule "),
    ("requeued_unchanged", "test_model.py", "", "test_assignment_model: [rule queue.unchanged-not"),
]


@pytest.mark.parametrize(
    ("fault", "module", "selection", "message"),
    FAULTS,
    ids=[
        f"{fault}-{module.removeprefix('test_').removesuffix('.py')}"
        for fault, module, *_ in FAULTS
    ],
)
def test_the_suite_catches_an_injected_fault(
    tmp_path: Path, fault: str, module: str, selection: str, message: str
) -> None:
    extra = ["-k", selection] if selection else []
    # Whether a property meets the fault must not be left to chance: a fixed seed, hypothesis's
    # default profile (not the derandomized one it picks by itself under CI=true), and a working
    # directory of its own, so that no example saved by another run (.hypothesis/) is replayed.
    result = conformance(
        "--start-local",
        "--no-shrink",
        "--junitxml",
        str(tmp_path / "r.xml"),
        "--",
        str(CHECKS / module),
        "--local-faults",
        fault,
        "--hypothesis-profile",
        "default",
        "--hypothesis-seed",
        "20261202",
        *extra,
        cwd=tmp_path,
    )
    assert result.returncode == 1, f"{fault} went unnoticed:\n{result.stdout[-3000:]}"
    summary = result.stdout.split("conformance by area")[1]
    assert message in summary, result.stdout[-3000:]
