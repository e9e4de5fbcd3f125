"""`otakit device`: a virtual device on CPython that updates itself like a real one.

It keeps its state in a directory (the partial image, the progress, the installed slots), so a
restarted device resumes where it stopped. It prints one JSON line per state it reports
(DOWNLOADING, DOWNLOADED, VERIFIED, UPDATING, UPDATED, FAILED with its error) and exits once
UPDATED (0) or FAILED (1); when the server announces no package, or the one installed, it says so
and exits 0 at once (--wait waits for an update instead).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
from otaclient import protocol as p
from otaclient.install_slots import SlotInstaller
from otaclient.store_file import FileStore

from otasim.device import (
    NOTHING_ASSIGNED,
    DeviceEnv,
    DeviceSettings,
    Lifetime,
    VirtualDevice,
)
from otasim.faults import NONE
from otasim.fleet import DevicePlan
from otasim.links import CoapLink, HttpLink, Link, MqttLink

MQTT_311 = 4  # the version umqtt.simple speaks, as the device client on a board does


class StateLines:
    """The device's trace as `otakit device` prints it: one JSON line per state, link loss and
    idle verdict, with the wall clock; the simulator's other events stay unsaid."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self.write = write
        self.device: VirtualDevice | None = None  # set once the device exists

    def emit(self, t: float, device: str, event: str, **fields: Any) -> None:
        line = self.line(event, fields)
        if line is not None:
            self.write(json.dumps({"ts": int(time.time() * 1000), **line}))

    def flush(self) -> None:
        pass  # every line is written as it comes

    def line(self, event: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        device = self.device
        if device is None:
            return None
        updater = device.updater
        if event == "state":
            target = updater.target or {}
            line = {
                "state": fields["state"],
                "title": target.get("title", updater.current_title),
                "version": target.get("version", updater.current_version),
                "received": updater.received,
                "size": target.get("size"),
                "fetched": device.fetched,
            }
            if "error" in fields:
                line["error"] = fields["error"]
            return line
        if event == "link":
            return {
                "event": "disconnected",
                "error": fields["error"],
                "retry_in_ms": fields["retry_ms"],
            }
        if event == "idle":
            title, version = device.current_package
            if fields["reason"] == NOTHING_ASSIGNED:
                message = "the server announces no package"
            else:
                message = f"already runs the assigned package {title} {version}"
            return {
                "title": title,
                "version": version,
                "event": fields["reason"],
                "message": message,
            }
        return None


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otakit device", description=__doc__)
    parser.add_argument("--server", default="localhost", help="host of the otakit server")
    parser.add_argument("--token", required=True, help="the device's access token")
    parser.add_argument("--protocol", choices=("mqtt", "http", "coap"), default="mqtt")
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--coap-port", type=int, default=5683)
    parser.add_argument("--kind", choices=(p.FIRMWARE, p.SOFTWARE), default=p.FIRMWARE)
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=16384,
        help="bytes per chunk; 0 downloads the whole file at once",
    )
    parser.add_argument(
        "--state-dir",
        default="./otakit-device",
        help="where the device keeps its image, progress and slots",
    )
    parser.add_argument("--current-title", default="Initial")
    parser.add_argument("--current-version", default="v0")
    parser.add_argument(
        "--timeout", type=float, default=0, help="give up after this many seconds (0: never)"
    )
    parser.add_argument(
        "--chunk-delay-ms", type=int, default=0, help="pause after each chunk, to play a slow link"
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="when the server announces no package, or the installed one, wait for an update "
        "instead of exiting",
    )
    parser.add_argument(
        "--forever", action="store_true", help="keep running after an update instead of exiting"
    )
    return parser


@contextlib.asynccontextmanager
async def link_for(args: argparse.Namespace, timeout: float) -> AsyncIterator[Link]:
    if args.protocol == "mqtt":
        yield MqttLink(args.server, args.mqtt_port, args.token, args.kind, MQTT_311, timeout)
    elif args.protocol == "http":
        base = f"http://{args.server}:{args.http_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            yield HttpLink(http, args.token, args.kind, timeout)
    else:
        yield CoapLink(f"coap://{args.server}:{args.coap_port}", args.token, args.kind, timeout)


async def run(args: argparse.Namespace, lines: StateLines) -> VirtualDevice:
    """Runs the device until its update ends, it is told there is none, or --timeout."""
    os.makedirs(args.state_dir, exist_ok=True)
    installer = SlotInstaller(os.path.join(args.state_dir, "slots"))
    installed = installer.current()
    current = (
        installed["title"] or args.current_title,
        installed["version"] or args.current_version,
    )
    settings = DeviceSettings(
        kind=args.kind, install_s=0.0, chunk_delay_s=args.chunk_delay_ms / 1000
    )
    # One device, no fault: it ends as UPDATED, as a healthy device of the simulator does.
    plan = DevicePlan(
        index=0,
        name=args.token,
        transport=args.protocol,
        chunk_size=args.chunk_size,
        fault=NONE,
        predicted=p.UPDATED,
        renotify=False,
        seed=random.randrange(2**32),
        at_chunk=-1,
    )
    env = DeviceEnv(lines, time.monotonic(), asyncio.Event(), settings)
    lifetime = Lifetime(
        tell_idle=True, exit_idle=not (args.wait or args.forever), forever=args.forever
    )
    async with link_for(args, settings.request_timeout) as link:
        device = VirtualDevice(
            plan,
            link,
            env,
            0,
            store=FileStore(args.state_dir),
            installer=installer,
            current=current,
            lifetime=lifetime,
        )
        lines.device = device
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.timeout or None):
                await device.run()
    return device


def exit_code(device: VirtualDevice, wait: bool) -> int:
    """0 for UPDATED, or for a device told it has nothing to do that was not asked to wait."""
    state = device.updater.state
    if state == p.UPDATED:
        return 0
    return 0 if state == p.IDLE and device.idle_reason and not wait else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    device = asyncio.run(run(args, StateLines(lambda line: print(line, flush=True))))
    return exit_code(device, args.wait)
