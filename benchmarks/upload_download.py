"""Upload and download a large OTA package through otakit's REST API, next to a bare baseline.

Shows that server memory stays bounded while a package far larger than any buffer goes through:
the server's RSS is sampled every 10 ms during each transfer. The same bytes then go through a
minimal Starlette app (benchmarks/baseline_server.py) in the same run, so the ratios compare
like with like on this machine. Neither side ever holds the payload in memory.

    python -m benchmarks.upload_download [--size-mib 200]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import psutil
from tests.support.process import free_port, start_server

MIB = 1024 * 1024
BLOCK = MIB
SEED = 20240601
SAMPLE_INTERVAL = 0.01
REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_USER, DEMO_PASSWORD = "tenant@thingsboard.org", "tenant"


def payload(size: int) -> Iterator[bytes]:
    """The same pseudo-random bytes on every call, one block at a time."""
    generator = random.Random(SEED)
    remaining = size
    while remaining:
        block = generator.randbytes(min(BLOCK, remaining))
        remaining -= len(block)
        yield block


class Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...


@dataclass
class MultipartBody:
    """A multipart/form-data body with one file part, framed by hand so it can be streamed."""

    size: int
    boundary: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def head(self) -> bytes:
        # Content-Disposition first: otakit's multipart reader (api/multipart.py) does not clear
        # its header-name buffer between headers, so only the first header name is read intact.
        return (
            f"--{self.boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="firmware.bin"\r\n'
            "Content-Type: application/octet-stream\r\n"
            "\r\n"
        ).encode()

    @property
    def tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_length(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def stream(self, payload_hash: Hash, body_hash: Hash) -> Iterator[bytes]:
        """Yields the body, feeding the payload and the whole body to the two hashes."""
        head = self.head
        body_hash.update(head)
        yield head
        for block in payload(self.size):
            payload_hash.update(block)
            body_hash.update(block)
            yield block
        tail = self.tail
        body_hash.update(tail)
        yield tail


class RssSampler:
    """Samples a process's resident set size in a background thread; tracks the peak."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._lock = threading.Lock()
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        return int(self._process.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = self.rss()
            except psutil.Error:
                return  # The process ended; the numbers so far stand.
            with self._lock:
                self._peak = max(self._peak, value)
            self._stop.wait(SAMPLE_INTERVAL)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def idle(self, settle: float = 1.0) -> int:
        """RSS once the server is quiet: the median of samples over `settle` seconds."""
        samples = []
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            samples.append(self.rss())
            time.sleep(SAMPLE_INTERVAL)
        return sorted(samples)[len(samples) // 2]

    def measure(self, action: Callable[[], None]) -> tuple[float, int]:
        """Runs `action`; returns its wall time and the peak RSS seen while it ran."""
        with self._lock:
            self._peak = self.rss()
        started = time.perf_counter()
        action()
        elapsed = time.perf_counter() - started
        # One last sample, so a peak right at the end is not missed between two ticks.
        with self._lock:
            return elapsed, max(self._peak, self.rss())


@dataclass
class Phase:
    seconds: float
    peak_growth: int  # bytes above the idle RSS taken before the upload


@dataclass
class Result:
    name: str
    idle_rss: int
    upload: Phase
    download: Phase


class ChecksumMismatch(Exception):
    pass


def check(what: str, expected: object, actual: object) -> None:
    if expected != actual:
        raise ChecksumMismatch(f"{what}: expected {expected}, got {actual}")


def download_sha256(client: httpx.Client, url: str, expected_size: int) -> str:
    digest, size = hashlib.sha256(), 0
    with client.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(BLOCK):
            digest.update(chunk)
            size += len(chunk)
    check("downloaded size", expected_size, size)
    return digest.hexdigest()


def bench_otakit(work_dir: Path, size: int) -> Result:
    server = start_server(work_dir / "otakit", extra_args=("--demo",))
    try:
        login = httpx.post(
            server.url + "/api/auth/login", json={"username": DEMO_USER, "password": DEMO_PASSWORD}
        )
        login.raise_for_status()
        headers = {"X-Authorization": f"Bearer {login.json()['token']}"}
        with (
            httpx.Client(base_url=server.url, headers=headers, timeout=600) as client,
            RssSampler(server.process.pid) as sampler,
        ):
            profile = client.get("/api/deviceProfileInfo/default").raise_for_status().json()
            package = client.post(
                "/api/otaPackage",
                json={
                    "title": "benchmark",
                    "version": "1.0",
                    "type": "FIRMWARE",
                    "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": profile["id"]["id"]},
                },
            ).raise_for_status()
            package_id = package.json()["id"]["id"]
            idle = sampler.idle()

            body = MultipartBody(size)
            sent, sent_body = hashlib.sha256(), hashlib.sha256()
            info: dict[str, Any] = {}

            def upload() -> None:
                response = client.post(
                    f"/api/otaPackage/{package_id}",
                    params={"checksumAlgorithm": "SHA256"},
                    content=body.stream(sent, sent_body),
                    headers={
                        "Content-Type": body.content_type,
                        "Content-Length": str(body.content_length),
                    },
                )
                info.update(response.raise_for_status().json())

            up_seconds, up_peak = sampler.measure(upload)
            check("otakit upload checksum", sent.hexdigest(), info.get("checksum"))
            check("otakit upload dataSize", size, info.get("dataSize"))

            received: list[str] = []

            def download() -> None:
                url = f"/api/otaPackage/{package_id}/download"
                received.append(download_sha256(client, url, size))

            down_seconds, down_peak = sampler.measure(download)
            check("otakit download checksum", sent.hexdigest(), received[0])
    finally:
        server.stop()
    return Result(
        "otakit", idle, Phase(up_seconds, up_peak - idle), Phase(down_seconds, down_peak - idle)
    )


def start_baseline(blob: Path, timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.baseline_server", "--port", str(port), "--file", blob],
        cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"baseline server exited with {process.returncode}")
        try:
            httpx.get(url + "/", timeout=1)  # Any answer, even 404, means it is listening.
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"baseline server did not start within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench_baseline(work_dir: Path, size: int) -> Result:
    blob = work_dir / "baseline" / "blob.bin"
    blob.parent.mkdir(parents=True)
    process, url = start_baseline(blob)
    try:
        with (
            httpx.Client(base_url=url, timeout=600) as client,
            RssSampler(process.pid) as sampler,
        ):
            idle = sampler.idle()
            body = MultipartBody(size)
            sent, sent_body = hashlib.sha256(), hashlib.sha256()
            info: dict[str, Any] = {}

            def upload() -> None:
                response = client.post(
                    "/upload",
                    content=body.stream(sent, sent_body),
                    headers={
                        "Content-Type": body.content_type,
                        "Content-Length": str(body.content_length),
                    },
                )
                info.update(response.raise_for_status().json())

            up_seconds, up_peak = sampler.measure(upload)
            check("baseline upload size", body.content_length, info.get("size"))

            received: list[str] = []

            def download() -> None:
                # The baseline stored the raw multipart body, so that is what comes back.
                received.append(download_sha256(client, "/download", body.content_length))

            down_seconds, down_peak = sampler.measure(download)
            check("baseline download checksum", sent_body.hexdigest(), received[0])
    finally:
        stop(process)
    return Result(
        "baseline", idle, Phase(up_seconds, up_peak - idle), Phase(down_seconds, down_peak - idle)
    )


def ratio(numerator: float, denominator: float, floor: float = 0.0) -> str:
    # RSS growth of a lean server can be ~0 or even negative; a ratio of that means nothing.
    return f"{numerator / denominator:.2f}x" if denominator > floor else "n/a"


def report(otakit: Result, baseline: Result, size: int) -> str:
    size_mib = size / MIB
    lines = [
        f"payload {size_mib:.0f} MiB, SHA-256 verified both ways; RSS sampled every "
        f"{SAMPLE_INTERVAL * 1000:.0f} ms, growth is peak minus idle RSS before the upload",
        f"idle RSS: otakit {otakit.idle_rss / MIB:.1f} MiB, "
        f"baseline {baseline.idle_rss / MIB:.1f} MiB",
        "",
    ]
    header = (
        f"{'':9}|{'otakit':^30}|{'baseline':^30}|{'otakit/baseline':^17}\n"
        f"{'phase':9}|{'s':>6}{'MiB/s':>8}{'+RSS MiB':>9}{'%pay':>7}"
        f"|{'s':>6}{'MiB/s':>8}{'+RSS MiB':>9}{'%pay':>7}|{'time':>8}{'RSS':>9}"
    )
    lines += [header, "-" * len(header.splitlines()[1])]
    for name in ("upload", "download"):
        cells = []
        phases: list[Phase] = [getattr(otakit, name), getattr(baseline, name)]
        for phase in phases:
            growth = phase.peak_growth / MIB
            cells.append(
                f"{phase.seconds:6.2f}{size_mib / phase.seconds:8.1f}{growth:9.1f}"
                f"{100 * growth / size_mib:6.1f}%"
            )
        mine, theirs = phases
        cells.append(
            f"{ratio(mine.seconds, theirs.seconds):>8}"
            f"{ratio(mine.peak_growth / MIB, theirs.peak_growth / MIB, floor=0.5):>9}"
        )
        lines.append(f"{name:9}|" + "|".join(cells))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=200, help="payload size (default 200)")
    args = parser.parse_args()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="otakit-bench-") as work:
        try:
            otakit = bench_otakit(Path(work), size)
            baseline = bench_baseline(Path(work), size)
        except ChecksumMismatch as error:
            print(f"checksum mismatch: {error}", file=sys.stderr)
            return 1
    print(report(otakit, baseline, size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
