"""The device client's flash and RAM footprint on MicroPython.

Flash: each module the device needs, as source and compiled with mpy-cross (what `mip` or
`mpremote cp` puts on a board). RAM: on real MicroPython (the WebAssembly port, run by Node from
tests/client/micropython), the heap taken by importing the core and building an updater, and
the live heap during a 1 MiB download (from the core checks), next to the size of the image.

    python -m benchmarks.client_footprint
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "client" / "otaclient"
RUNNER = ROOT / "tests" / "client" / "micropython"
DEVICE_MODULES = (
    "__init__",
    "protocol",
    "checksums",
    "updater",
    "agent",
    "net_mqtt",
    "store_file",
    "digest_md5",
    "digest_sha512",
    "digest_murmur3",
)
IMPORT_PROBE = """
import gc
gc.collect()
before = gc.mem_alloc()
from otaclient.agent import Agent
from otaclient.net_mqtt import MqttTransport
from otaclient.updater import Updater
gc.collect()
imported = gc.mem_alloc()
updater = Updater("fw", "demo", "1.0", 4096)
agent = Agent(updater, None, None, None)
gc.collect()
print("IMPORT_HEAP %d" % (imported - before))
print("AGENT_HEAP %d" % (gc.mem_alloc() - imported))
"""


def flash_sizes(work: Path) -> list[tuple[str, int, int]]:
    rows = []
    for name in DEVICE_MODULES:
        source = PACKAGE / f"{name}.py"
        compiled = work / f"{name}.mpy"
        subprocess.run(
            [sys.executable, "-m", "mpy_cross", "-o", str(compiled), str(source)], check=True
        )
        rows.append((name, source.stat().st_size, compiled.stat().st_size))
    return rows


def micropython(script: Path, *data: Path) -> str:
    node = shutil.which("node")
    if node is None:
        sys.exit("needs node, and `npm ci` in tests/client/micropython")
    result = subprocess.run(
        [node, str(RUNNER / "run.mjs"), str(PACKAGE), str(script), *map(str, data)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def value(output: str, name: str) -> int:
    return int(output.split(name + " ")[1].split()[0])


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.client.test_core import vectors

    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        rows = flash_sizes(work)
        probe = work / "probe.py"
        probe.write_text(IMPORT_PROBE)
        imports = micropython(probe)
        data = work / "vectors.json"
        data.write_text(json.dumps(vectors()))
        download = micropython(RUNNER / "core_checks.py", data)
    print(f"{'module':16} {'.py bytes':>10} {'.mpy bytes':>11}")
    for name, source, compiled in rows:
        print(f"{name:16} {source:10d} {compiled:11d}")
    print(f"{'total':16} {sum(r[1] for r in rows):10d} {sum(r[2] for r in rows):11d}")
    print()
    print(f"heap after importing the core and MQTT adapter: {value(imports, 'IMPORT_HEAP')} B")
    print(f"heap of one updater and agent:                  {value(imports, 'AGENT_HEAP')} B")
    peak = value(download, "PEAK_HEAP")
    print(
        f"live heap growth during a 1 MiB download (4 KiB chunks): {peak} B "
        f"({peak / (1024 * 1024):.4%} of the image)"
    )


if __name__ == "__main__":
    main()
