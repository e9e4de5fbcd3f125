"""The docs, run as a reader runs them: every shell block, in order, against a fresh demo server.

So README.md, client/README.md and docs/conformance.md cannot go stale: a command that no longer
works, or an output that no longer appears, fails here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.markdown_blocks import SHELL_LANGUAGES, blocks

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "client/README.md", "docs/conformance.md")
# The server each document's blocks run against: README's Quick start paces the demo at a pack a
# second, for its fleet campaign.
SERVE = {"README.md": "otakit serve --demo --queue-pack-interval-ms 1000"}


def run_document(
    name: str, workdir: Path, timeout_s: float = 420
) -> subprocess.CompletedProcess[str]:
    serve = SERVE.get(name, "otakit serve --demo")
    if shutil.which("unshare") is None:
        pytest.skip("running the docs needs util-linux's unshare (a network namespace of its own)")
    return subprocess.run(
        [
            "unshare",
            "-rn",
            sys.executable,
            "-m",
            "tests.support.docrun",
            str(ROOT / name),
            "--workdir",
            str(workdir),
            "--timeout",
            str(timeout_s),
            "--serve",
            serve,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s + 90,
    )


def ran_cleanly(result: subprocess.CompletedProcess[str], workdir: Path) -> str:
    server_log = (workdir / "server.log").read_text() if (workdir / "server.log").exists() else ""
    assert result.returncode == 0, (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n"
        f"{result.stderr[-4000:]}\n--- server log\n{server_log[-4000:]}"
    )
    assert "Traceback" not in server_log, server_log
    return result.stdout


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_shell_block_runs_or_says_why_not(name: str) -> None:
    found = [b for b in blocks((ROOT / name).read_text()) if b.language in SHELL_LANGUAGES]
    assert found, f"{name} has no shell block"
    for block in found:
        assert block.not_run_because is None or block.not_run_because.strip(), block.line


@pytest.mark.xdist_group("fleet")  # its 1 000-device campaign: one fleet at a time
def test_readme_walkthrough_updates_a_demo_device_and_runs_a_fleet_campaign(
    tmp_path: Path,
) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"&& {SERVE['README.md']}\n" in readme  # the Quick start serves as the test does
    out = ran_cleanly(run_document("README.md", tmp_path, timeout_s=900), tmp_path)
    # The virtual device's one JSON line per state, ending in UPDATED to the package just made.
    assert '"UPDATED"' in out and '"thermostat-fw"' in out, out
    # The MQTT and CoAP one-liners fetched the package's first bytes, not an error text.
    assert out.count("chunk 0 matches") == 2, out
    # The campaign: 1 000 devices as predicted, the pace held, the report where it says.
    campaign = json.loads(next(line for line in out.splitlines() if '"devices": 1000' in line))
    assert campaign["ok"] is True and campaign["mismatches"] == 0, campaign
    assert campaign["pace_violations"] == 0 and campaign["max_in_window"] <= 100, campaign
    assert (tmp_path / "campaign" / "report.html").stat().st_size > 10_000
    assert "sim1-00042 states: the same" in out and "sim1-00042 requests: the same" in out, out


def test_client_readme_updates_a_device_on_each_transport(tmp_path: Path) -> None:
    out = ran_cleanly(run_document("client/README.md", tmp_path), tmp_path)
    assert out.count('"state": "UPDATED"') == 3, out
    assert '"event": "up to date"' in out, out


def test_conformance_doc_passes_locally(tmp_path: Path) -> None:
    out = ran_cleanly(run_document("docs/conformance.md", tmp_path), tmp_path)
    # One run of the suite, --start-local, passing (the demo's is tests/conformance's).
    assert len(re.findall(r"^\d+ passed(, \d+ skipped)? in ", out, re.M)) == 1, out
    assert not re.search(r"\b[1-9]\d* (failed|error)", out), out
