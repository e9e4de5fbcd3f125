"""`otakit --version` names the installed distribution's version."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version

import pytest


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "otaserver.cli", "--version"],
        # The console script that README's install puts on PATH, when it is there.
        [shutil.which("otakit") or "otakit", "--version"],
    ],
    ids=["module", "script"],
)
def test_version_flag(command: list[str]) -> None:
    if not shutil.which(command[0]):
        pytest.skip("no otakit console script on PATH")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"otakit {version('otakit')}\n"
    assert version("otakit")[0].isdigit()
