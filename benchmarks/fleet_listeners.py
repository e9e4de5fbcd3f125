"""The lean driver of the notification rows: MQTT devices that only listen for their push.

A simulated device downloads as soon as it is told of a package, which would load the server
while it is still telling the others; these devices connect, subscribe to the shared attribute
topic and note when the update naming the package (fw_title) arrives, nothing else. So the
fan-out and pace rows measure the notification path alone, at a few microseconds of client CPU
per push.

Each child process holds a share of the devices on one asyncio loop:
parent -> child: the job; child -> parent: {"connected", "s"} once every device is subscribed;
parent -> child: "expect"; child -> parent: {"times", "cpu"} once every device has its push or
the job's timeout has passed; parent -> child: "close".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from otaclient import protocol as p
from otasim import mqtt_client

from benchmarks.fleet_procs import own_cpu, receive, report_failure

CONNECT_TRIES = 5
MQTT_TIMEOUT_S = 60.0  # a CONNACK queued behind thousands of connects is late, not lost
TITLE_KEY = p.key(p.FIRMWARE, "title")


@dataclass
class ListenJob:
    host: str
    port: int
    tokens: list[str]
    connect_concurrency: int
    timeout_s: float  # for the connects, and again for the pushes


def listen_child(job: ListenJob, conn: Connection) -> None:
    try:
        asyncio.run(_listen(job, conn))
    except BaseException as error:
        report_failure(conn, error)


class Listener:
    """The push arrival time of each device (NaN until it comes)."""

    def __init__(self, count: int) -> None:
        self.times = [math.nan] * count
        self.heard = 0
        self.all_heard = asyncio.Event()
        if count == 0:
            self.all_heard.set()

    def handler(self, index: int) -> mqtt_client.MessageHandler:
        def on_message(topic: str, payload: bytes) -> None:
            # The clock first: parsing is the client's time, not the server's.
            now = time.monotonic()
            if topic != p.ATTRIBUTES_TOPIC or not math.isnan(self.times[index]):
                return
            if TITLE_KEY in json.loads(payload):
                self.times[index] = now
                self.heard += 1
                if self.heard == len(self.times):
                    self.all_heard.set()

        return on_message


async def _connect(
    job: ListenJob, token: str, handler: mqtt_client.MessageHandler
) -> mqtt_client.MqttClient:
    for attempt in range(CONNECT_TRIES):
        try:
            client = await mqtt_client.connect(
                job.host,
                job.port,
                client_id="bench-" + token,
                username=token,
                timeout=MQTT_TIMEOUT_S,
                on_message=handler,
            )
            await client.subscribe([(p.ATTRIBUTES_TOPIC, 1)])
            return client
        except mqtt_client.MqttError:
            if attempt == CONNECT_TRIES - 1:
                raise
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


async def _listen(job: ListenJob, conn: Connection) -> None:
    listener = Listener(len(job.tokens))
    gate = asyncio.Semaphore(job.connect_concurrency)
    clients: list[mqtt_client.MqttClient] = []

    async def one(index: int, token: str) -> None:
        async with gate:
            clients.append(await _connect(job, token, listener.handler(index)))

    began = time.monotonic()
    try:
        async with asyncio.timeout(job.timeout_s), asyncio.TaskGroup() as group:
            for index, token in enumerate(job.tokens):
                group.create_task(one(index, token))
        conn.send({"connected": len(clients), "s": time.monotonic() - began})
        await asyncio.to_thread(receive, conn, job.timeout_s)  # "expect"
        cpu = own_cpu()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(job.timeout_s):
                await listener.all_heard.wait()
        conn.send({"times": listener.times, "cpu": own_cpu() - cpu})
        await asyncio.to_thread(receive, conn, job.timeout_s)  # "close"
    finally:
        await asyncio.gather(*(_close(c) for c in clients))


async def _close(client: mqtt_client.MqttClient) -> None:
    with contextlib.suppress(mqtt_client.MqttError, OSError):
        await client.disconnect()
