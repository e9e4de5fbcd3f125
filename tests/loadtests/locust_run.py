"""Running otakit's locustfile headless in a subprocess, and reading Locust's CSV output."""

from __future__ import annotations

import csv
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
    """`locust -f loadtests/locustfile.py --headless --csv ... <args>`, to its end."""
    prefix = workdir / "run"
    done = subprocess.run(
        command("--headless", "--csv", str(prefix), "--only-summary", *args),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return LocustRun(done.returncode, done.stdout + done.stderr, prefix)
