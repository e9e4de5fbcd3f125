# main.py for an ESP32 running MicroPython: otakit's client over MQTT, writing the new image
# straight into the next OTA partition. Copy with mpremote (see client/README.md); set the
# constants below. Untested on hardware in this repository's CI (it needs a board); the core it
# drives is tested on MicroPython.

import json
import time

import esp32
import machine
import network
from umqtt.simple import MQTTClient

from otaclient.agent import Agent
from otaclient.net_mqtt import MqttTransport
from otaclient.updater import Updater

WIFI_SSID, WIFI_PASSWORD = "my-network", "my-password"
SERVER, TOKEN = "otakit.example.com", "my-device-token"
CHUNK = 4096  # a multiple of the flash block size (4096 on ESP32)
STATE = "/ota.json"  # progress and the running version


class PartitionStore:
    """Writes the image block by block into the partition that will boot next."""

    def __init__(self):
        self.partition = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
        self.block = self.partition.ioctl(5, 0)  # block size

    def write(self, offset, data):
        if len(data) < self.block:
            data = data + b"\xff" * (self.block - len(data))
        self.partition.writeblocks(offset // self.block, data)

    def read(self, offset, length):
        buffer = bytearray(length)
        self.partition.readblocks(offset // self.block, buffer)
        return bytes(buffer)

    def discard(self):
        pass  # the next download overwrites it

    def save_progress(self, progress):
        state = load_state()
        state["progress"] = progress
        save_state(state)


class BootInstaller:
    """Boots the new image once; it stays only if it comes back up (see confirm_boot)."""

    def install(self, target, store):
        state = load_state()
        label = store.partition.info()[4]
        state["pending"] = {
            "title": target["title"],
            "version": target["version"],
            "partition": label,
        }
        save_state(state)
        store.partition.set_boot()
        machine.reset()  # does not return


def load_state():
    try:
        with open(STATE) as file:
            return json.load(file)
    except OSError:
        return {"title": "factory", "version": "0", "progress": None, "pending": None}


def save_state(state):
    with open(STATE + ".tmp", "w") as file:
        json.dump(state, file)
    import os

    os.rename(STATE + ".tmp", STATE)


def confirm_boot(transport, state):
    """After an update's reboot: keep the new image once it reached the server again.

    If the new image crashed or never got online, the bootloader rolled back at the next reset
    and the old image runs this: it reports FAILED.
    """
    pending = state.get("pending")
    if not pending:
        return
    running = esp32.Partition(esp32.Partition.RUNNING).info()[4]
    state["pending"], state["progress"] = None, None
    if running == pending["partition"]:
        state["title"], state["version"] = pending["title"], pending["version"]
        save_state(state)
        esp32.Partition.mark_app_valid_cancel_rollback()
        transport.send_telemetry(
            {
                "current_fw_title": state["title"],
                "current_fw_version": state["version"],
                "fw_state": "UPDATED",
            }
        )
    else:
        save_state(state)
        transport.send_telemetry(
            {"fw_state": "FAILED", "fw_error": "the new image did not start; rolled back"}
        )


def main():
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.connect(WIFI_SSID, WIFI_PASSWORD)
    while not wlan.isconnected():
        time.sleep_ms(200)
    state = load_state()
    client = MQTTClient(b"otakit-" + TOKEN.encode(), SERVER, 1883, TOKEN.encode(), None, 60)
    transport = MqttTransport(client)
    agent = Agent(None, transport, PartitionStore(), BootInstaller())
    transport.connect(agent)
    # If the new image never gets here (it crashes, or cannot reach the server), the bootloader
    # rolls back to the old one at the next reset; the old one then reports FAILED.
    confirm_boot(transport, state)
    # Only now is it known which version runs: the updater starts from that.
    updater = Updater("fw", state["title"], state["version"], CHUNK, state.get("progress"))
    agent.updater = updater
    agent.handle(updater.start())
    while True:
        try:
            transport.poll()
            agent.tick(time.ticks_ms())
        except OSError:
            agent.reset()
            agent.failed(time.ticks_ms(), (time.ticks_us() % 1000) / 1000)
            time.sleep_ms(max(0, updater.retry_at - time.ticks_ms()))
            updater.retry_at = None
            transport.connect(agent)
            agent.handle(updater.reconnected())
        time.sleep_ms(50)


main()
