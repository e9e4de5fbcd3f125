"""`otakit device`: a virtual device on CPython that updates itself like a real one.

It keeps its state in a directory (the partial image, the progress, the installed slots), so a
restarted device resumes where it stopped. It prints one JSON line per state it reports
(DOWNLOADING, DOWNLOADED, VERIFIED, UPDATING, UPDATED, FAILED with its error) and exits once
UPDATED (0) or FAILED (1); when the server announces no package, or the one installed, it says so
and exits 0 at once (--wait waits for an update instead).
"""

import argparse
import json
import os
import random
import sys
import time

from otaclient import protocol as p
from otaclient.agent import Agent
from otaclient.install_slots import SlotInstaller
from otaclient.store_file import FileStore
from otaclient.updater import Updater


def make_transport(args):
    kind = args.kind
    if args.protocol == "mqtt":
        from otaclient.net_mqtt import MqttTransport
        from otaclient.umqtt_paho import MQTTClient

        client = MQTTClient(
            b"otakit-" + args.token.encode(),
            args.server,
            args.mqtt_port,
            args.token.encode(),
            None,
            60,
        )
        return MqttTransport(client, kind)
    if args.protocol == "http":
        from otaclient.net_http import HttpTransport

        return HttpTransport("http://%s:%d" % (args.server, args.http_port), args.token, kind)
    from otaclient.net_coap import CoapTransport

    return CoapTransport(args.server, args.coap_port, args.token, kind)


def now_ms():
    return int(time.monotonic() * 1000)


UP_TO_DATE = "up to date"
NOTHING_ASSIGNED = "nothing assigned"


class DeviceAgent(Agent):
    """The agent, noting when the server has first told it which package it should run."""

    answered = False

    def attributes(self, values):
        self.answered = True
        Agent.attributes(self, values)


def state_line(updater, agent, state, telemetry):
    """What `otakit device` prints for a state the updater reports."""
    target = updater.target or {}
    line = {
        "state": state,
        "title": target.get("title", updater.current_title),
        "version": target.get("version", updater.current_version),
        "received": updater.received,
        "size": target.get("size"),
        "fetched": agent.fetched,
    }
    error = telemetry.get(p.error_key(updater.kind))
    if error is not None:
        line["error"] = error
    return line


def idle_line(updater):
    """Why a device that has heard from the server has nothing to do, or None if it has."""
    current = {"title": updater.current_title, "version": updater.current_version}
    target = updater.announced()
    if target is None:
        return dict(current, event=NOTHING_ASSIGNED, message="the server announces no package")
    if (target["title"], target["version"]) == (updater.current_title, updater.current_version):
        message = "already runs the assigned package %s %s" % (target["title"], target["version"])
        return dict(current, event=UP_TO_DATE, message=message)
    return None


def run(agent, transport, timeout_s, until_done=True, report=print, wait=False):
    """Connects, updates, reconnects with backoff when the server goes away.

    With `until_done` it returns once the update ends: 0 for UPDATED, 1 for FAILED. When the
    server's first answer announces no package, or the one already installed, it says so and
    returns 0 at once, unless `wait` asks it to wait for an update. It checks for the end before
    each poll, so no idle long poll holds it up.
    """
    updater = agent.updater
    deadline = time.monotonic() + timeout_s if timeout_s else None
    connected, started = False, False
    idle = []  # the line told when the server first had nothing for the device

    def done():
        if agent.finished:
            return until_done
        if idle or updater.state != p.IDLE or not getattr(agent, "answered", False):
            return False
        line = idle_line(updater)
        if line is None:
            return False
        idle.append(line)
        report(line)
        return until_done and not wait

    while deadline is None or time.monotonic() < deadline:
        try:
            if not connected:
                transport.connect(agent)
                connected, first = True, not started
                # Marked before handling: with HTTP the whole download runs inside this call.
                started = True
                agent.handle(updater.start() if first else updater.reconnected())
            if done():
                break
            transport.poll()
            agent.tick(now_ms())
        except (OSError, ValueError) as error:
            connected = False
            transport.close()
            agent.reset()
            agent.failed(now_ms(), random.random())
            report(
                {
                    "event": "disconnected",
                    "error": str(error),
                    "retry_in_ms": updater.retry_at - now_ms(),
                }
            )
            time.sleep(max(0, updater.retry_at - now_ms()) / 1000)
            updater.retry_at = None
            continue
        if done():
            break
    transport.close()
    if updater.state == p.UPDATED:
        return 0
    return 0 if updater.state == p.IDLE and idle and not wait else 1


def main(argv=None):
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
    args = parser.parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    store = FileStore(args.state_dir)
    installer = SlotInstaller(os.path.join(args.state_dir, "slots"))
    installed = installer.current()
    updater = Updater(
        args.kind,
        installed["title"] or args.current_title,
        installed["version"] or args.current_version,
        args.chunk_size,
        store.load_progress(),
    )

    def report(event):
        line = {"ts": int(time.time() * 1000)}
        line.update(event)
        print(json.dumps(line), flush=True)

    agent = DeviceAgent(updater, make_transport(args), store, installer)
    agent.on_state = lambda state, telemetry: report(state_line(updater, agent, state, telemetry))
    if args.chunk_delay_ms:
        write = store.write

        def slow_write(offset, data):
            write(offset, data)
            time.sleep(args.chunk_delay_ms / 1000)

        store.write = slow_write

    return run(agent, agent.transport, args.timeout, not args.forever, report, args.wait)


if __name__ == "__main__":
    sys.exit(main())
