"""Every command's --help prints its usage: argparse formats help texts with %, so one stray
percent sign in a help string turns --help into a crash (it did, for `otakit simulate`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = [
    (),
    ("serve",),
    ("admin",),
    ("admin", "reset-password"),
    ("device",),
    ("simulate",),
    ("simulate", "merge"),
    ("conformance",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "otakit")
def test_help_prints_the_usage(command: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "otaserver.cli", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: otakit"), done.stdout[:200]
    assert done.stderr == ""
