"""Run a document's shell blocks against a fresh `otakit serve --demo` on the default ports.

Meant to run in a network namespace of its own (`unshare -rn python -m tests.support.docrun ...`):
there the default ports 8080, 1883 and 5683 are free whatever else runs on the machine, so the
docs can say `localhost:8080` and be run verbatim, alongside the rest of the test suite.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.markdown_blocks import shell_script

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def bring_loopback_up() -> None:
    """A new network namespace starts with `lo` down; `ip link set lo up` without iproute2."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def reader_environment() -> dict[str, str]:
    """A reader's shell: the installed `otakit` on PATH, none of the tests' settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTAKIT_", "TB_QUEUE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def wait_until_serving(server: subprocess.Popen[bytes], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"otakit serve --demo exited with {server.returncode}")
        try:
            if httpx.get("http://localhost:8080/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"otakit serve --demo did not answer within {deadline_s} s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("document", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--serve", default="otakit serve --demo", help="the server command the document assumes"
    )
    args = parser.parse_args()
    bring_loopback_up()
    env = reader_environment()
    script = "set -euo pipefail\n" + shell_script(args.document)
    with (args.workdir / "server.log").open("wb") as server_log:
        server = subprocess.Popen(
            args.serve.split(),
            cwd=args.workdir,
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_serving(server, 60)
            try:
                shell = subprocess.run(
                    ["bash", "-c", script], cwd=args.workdir, env=env, timeout=args.timeout
                )
            except subprocess.TimeoutExpired:
                print(f"the blocks ran longer than {args.timeout} s", file=sys.stderr)
                return 124
            return shell.returncode
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    sys.exit(main())
