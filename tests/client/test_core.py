"""The client core's checks, on CPython and on real MicroPython (its WebAssembly port)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from otaconformance.reference import ALGORITHMS, checksum_text

from tests.client.micropython import core_checks

HERE = Path(__file__).parent / "micropython"
CLIENT = Path(__file__).parents[2] / "client" / "otaclient"
SIZES = (0, 1, 3, 64, 127, 128, 129, 1000, 3000)


def vectors() -> dict[str, object]:
    checksums = [
        {"algorithm": a, "size": n, "text": checksum_text(a, core_checks.pattern(0, n))}
        for a in ALGORITHMS
        for n in SIZES
    ]
    return {
        "checksums": checksums,
        "sha256_10000": hashlib.sha256(core_checks.pattern(0, 10000)).hexdigest(),
        "sha256_mib": hashlib.sha256(core_checks.pattern(0, core_checks.MIB)).hexdigest(),
    }


def test_core_on_cpython() -> None:
    data = vectors()
    core_checks.main(data)
    heap = core_checks.HeapRun(data)
    heap.begin()
    while heap.step():
        pass
    heap.finish()


def test_core_on_micropython(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules").exists():
        pytest.fail(
            "needs node and `npm ci` in tests/client/micropython (scripts/test.sh does both)"
        )
    data = tmp_path / "vectors.json"
    data.write_text(json.dumps(vectors()))
    result = subprocess.run(
        [node, str(HERE / "run.mjs"), str(CLIENT), str(HERE / "core_checks.py"), str(data)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "CORE OK" in result.stdout
    peak = int(result.stdout.split("PEAK_HEAP ")[1].split()[0])
    # The core never holds the image: a 1 MiB download uses a few chunks' worth of heap.
    assert peak < 128 * 1024, peak
