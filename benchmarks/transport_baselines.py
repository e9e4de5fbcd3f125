"""Reference servers for transport_throughput.py: the same bytes served by well-known tools.

- HTTP: nginx serving the file as a static file (sendfile, keep-alive, Range).
- MQTT: a mosquitto broker plus `responder` below, a paho client that answers ThingsBoard's
  chunk requests (v2/fw/request/{id}/chunk/{n}) with slices of the file held in memory.
- CoAP: libcoap's coap-server-notls holding the file as a dynamic resource created by PUT.

Each start_* function returns a started, ready server; `stop` ends it. The responder also runs on
its own (it is started as a subprocess, so it does not share the benchmark client's GIL):

    python -m benchmarks.transport_baselines --port 1883 --file fw.bin
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from tests.support.process import free_port, free_udp_port

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUEST_FILTER = "v2/fw/request/+/chunk/+"
READY = "ready"


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def spawn(args: list[str], log_path: Path, pipe_stdout: bool = False) -> subprocess.Popen[bytes]:
    # A session of its own, so `stop` can take down children (nginx workers) with the group.
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe_stdout else log_file,
            stderr=log_file,
            cwd=REPO_ROOT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    # The group too: a killed nginx master would leave its worker behind.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def keep_waiting(service: Service, deadline: float) -> None:
    """Sleeps a moment, unless the service died or the deadline passed."""
    if service.process.poll() is not None:
        code = service.process.returncode
        raise RuntimeError(f"{service.name} exited with {code}:\n{service.log()}")
    if time.monotonic() > deadline:
        raise RuntimeError(f"{service.name} did not start:\n{service.log()}")
    time.sleep(0.05)


def start_nginx(work_dir: Path, www: Path, timeout: float = 15.0) -> Service:
    """nginx serving `www` (which must be readable by nginx's worker user)."""
    port = free_port()
    conf = work_dir / "nginx.conf"
    # sendfile and keep-alive as in Debian's stock config: a realistic static file server.
    conf.write_text(
        f"daemon off;\n"
        f"pid {work_dir / 'nginx.pid'};\n"
        f"error_log {work_dir / 'nginx-error.log'};\n"
        "events {}\n"
        "http {\n"
        "    access_log off;\n"
        "    sendfile on;\n"
        "    keepalive_requests 1000000;\n"
        f"    client_body_temp_path {work_dir / 'nginx-body'};\n"
        f"    server {{ listen 127.0.0.1:{port}; root {www}; }}\n"
        "}\n"
    )
    log_path = work_dir / "nginx.log"
    process = spawn(["nginx", "-c", str(conf), "-p", str(work_dir)], log_path)
    service = Service("nginx", process, port, log_path)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)  # any answer: it listens
                return service
            except httpx.TransportError:
                keep_waiting(service, deadline)
    except BaseException:
        stop(process)
        raise


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_mosquitto(work_dir: Path, timeout: float = 15.0) -> Service:
    port = free_port()
    conf = work_dir / "mosquitto.conf"
    # Mosquitto 2 listens on localhost only and refuses anonymous clients unless told.
    # TCP_NODELAY like otakit's asyncio sockets, so Nagle does not stall request/response.
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "set_tcp_nodelay true\n"
        "persistence false\n"
    )
    log_path = work_dir / "mosquitto.log"
    process = spawn(["mosquitto", "-c", str(conf)], log_path)
    service = Service("mosquitto", process, port, log_path)
    deadline = time.monotonic() + timeout
    try:
        while not _tcp_open(port):
            keep_waiting(service, deadline)
    except BaseException:
        stop(process)
        raise
    return service


def start_responder(work_dir: Path, broker_port: int, blob: Path, timeout: float = 15.0) -> Service:
    log_path = work_dir / "responder.log"
    module = "benchmarks.transport_baselines"
    args = [sys.executable, "-m", module, "--port", str(broker_port), "--file", str(blob)]
    process = spawn(args, log_path, pipe_stdout=True)
    service = Service("MQTT responder", process, broker_port, log_path)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    try:
        # It prints READY once its subscription is granted: requests before that would be lost.
        while True:
            readable, _, _ = select.select([process.stdout], [], [], 0.1)
            if readable and process.stdout.readline().decode().strip() == READY:
                return service
            keep_waiting(service, deadline)
    except BaseException:
        stop(process)
        raise


def start_libcoap(work_dir: Path, blob: Path, path: str, timeout: float = 60.0) -> Service:
    """coap-server-notls with `blob` PUT (blockwise, by coap-client-notls) at `path`."""
    port = free_udp_port()
    log_path = work_dir / "coap-server.log"
    # -d: allow resources created by PUT, which is how the file gets in without writing C.
    args = ["coap-server-notls", "-A", "127.0.0.1", "-p", str(port), "-d", "4", "-v", "3"]
    process = spawn(args, log_path)
    service = Service("coap-server-notls", process, port, log_path)
    try:
        deadline = time.monotonic() + timeout
        while not _udp_bound(port):
            keep_waiting(service, deadline)
        put = subprocess.run(
            [
                *("coap-client-notls", "-m", "put", "-f", str(blob), "-B", str(int(timeout))),
                f"coap://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            timeout=timeout + 10,
        )
        output = (put.stdout + put.stderr).decode(errors="replace").strip()
        # It exits 0 even on an error response, which it prints (e.g. "4.06 Not Acceptable").
        if put.returncode != 0 or re.search(r"\b[45]\.\d\d\b", output):
            raise RuntimeError(f"PUT to coap-server-notls failed ({put.returncode}): {output}")
        if process.poll() is not None:
            raise RuntimeError(f"coap-server-notls exited:\n{service.log()}")
    except BaseException:
        stop(process)
        raise
    return service


def _udp_bound(port: int) -> bool:
    # UDP has no handshake to probe; a bind that fails means the server holds the port.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def no_delay(client: paho.Client) -> None:
    """TCP_NODELAY on a connected paho client, which leaves Nagle on.

    With Nagle, a request written while the previous small packet (a PUBACK) is unacknowledged
    waits for the peer's delayed ACK: ~40 ms per chunk, whoever the server is.
    """
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def responder(port: int, blob: Path) -> None:
    """Answers chunk requests like otakit does, from memory: the cheapest possible MQTT peer."""
    data = blob.read_bytes()
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"responder-{os.getpid()}",
        protocol=MQTTProtocolVersion.MQTTv311,
    )

    def on_connect(client: paho.Client, _u: object, _f: object, code: object, _p: object) -> None:
        client.subscribe(REQUEST_FILTER, qos=1)

    def on_subscribe(_c: paho.Client, _u: object, _m: object, codes: object, _p: object) -> None:
        print(READY, flush=True)

    def on_message(client: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        # v2/fw/request/{id}/chunk/{n}; the payload is the chunk size in decimal.
        _, _, _, request_id, _, index = message.topic.split("/")
        size, number = int(message.payload or b"0"), int(index)
        piece = data[size * number : size * (number + 1)] if size else data
        client.publish(f"v2/fw/response/{request_id}/chunk/{index}", piece, qos=1)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    no_delay(client)
    client.loop_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="MQTT chunk responder for the baseline")
    parser.add_argument("--port", type=int, required=True, help="broker port")
    parser.add_argument("--file", type=Path, required=True, help="the firmware to serve")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    responder(args.port, args.file)


if __name__ == "__main__":
    main()
