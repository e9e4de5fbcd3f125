"""Running otakit's locustfile headless in a subprocess, and reading Locust's CSV output."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtests" / "otaload" / "locustfile.py"
ALL_DEVICES = ("MqttDevice", "Mqtt5Device", "HttpDevice", "CoapDevice")
Row = dict[str, str]


@dataclass
class LocustRun:
    returncode: int
    output: str
    csv_prefix: Path

    def stats(self) -> dict[tuple[str, str], Row]:
        """Locust's statistics rows, by (request type, name)."""
        with Path(f"{self.csv_prefix}_stats.csv").open(newline="") as rows:
            return {(row["Type"], row["Name"]): row for row in csv.DictReader(rows)}

    def failures(self) -> list[Row]:
        with Path(f"{self.csv_prefix}_failures.csv").open(newline="") as rows:
            return list(csv.DictReader(rows))

    def verdict(self) -> list[str]:
        """otaload's own lines: the tally and each threshold passed."""
        return [line for line in self.output.splitlines() if "otaload: " in line]

    def count(self, request_type: str, name: str) -> int:
        row = self.stats().get((request_type, name))
        return int(row["Request Count"]) if row else 0


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def run_locust(args: list[str], workdir: Path, timeout: float = 240) -> LocustRun:
    """`locust -f loadtests/otaload/locustfile.py --headless --csv ... <args>`, to its end."""
    prefix = workdir / "run"
    done = subprocess.run(
        command("--headless", "--csv", str(prefix), "--only-summary", *args),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return LocustRun(done.returncode, done.stdout + done.stderr, prefix)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_locust(args: list[str], workdir: Path, log: Path) -> subprocess.Popen[bytes]:
    """The locustfile with `args` in the background, its output to `log`, in a session of its
    own so that `stop_tree` ends it with whatever it started (a local otakit)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command(*args),
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_tree(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Ends a process of `start_locust` and what it started (its session): SIGTERM, so Locust
    runs its quitting hooks (the local otakit stops), then SIGKILL for whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):  # the session is gone
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
