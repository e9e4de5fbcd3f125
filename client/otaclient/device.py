"""`otakit device`: a virtual device on CPython that updates itself like a real one.

It keeps its state in a directory (the partial image, the progress, the installed slots), so a
restarted device resumes where it stopped. It prints one JSON line per state change.
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


def run(agent, transport, timeout_s, until_done=True, report=print):
    """Connects, updates, reconnects with backoff when the server goes away."""
    updater = agent.updater
    deadline = time.monotonic() + timeout_s if timeout_s else None
    connected, started, last = False, False, None
    while deadline is None or time.monotonic() < deadline:
        try:
            if not connected:
                transport.connect(agent)
                connected, first = True, not started
                # Marked before handling: with HTTP the whole download runs inside this call.
                started = True
                agent.handle(updater.start() if first else updater.reconnected())
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
        if updater.state != last:
            last = updater.state
            report({"state": last, "received": updater.received, "fetched": agent.fetched})
        if until_done and agent.finished:
            break
    transport.close()
    return 0 if updater.state == p.UPDATED else 1


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
    agent = Agent(updater, make_transport(args), store, installer)
    if args.chunk_delay_ms:
        write = store.write

        def slow_write(offset, data):
            write(offset, data)
            time.sleep(args.chunk_delay_ms / 1000)

        store.write = slow_write

    def report(event):
        print(json.dumps(event), flush=True)

    return run(agent, agent.transport, args.timeout, not args.forever, report)


if __name__ == "__main__":
    sys.exit(main())
