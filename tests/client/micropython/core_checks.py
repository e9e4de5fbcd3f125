# The client core's checks, written to run unchanged on MicroPython and on CPython.
# main(vectors) raises AssertionError on the first failure and prints "CORE OK" at the end.
# On MicroPython it also prints "PEAK_HEAP <bytes>" for a 1 MiB download.

import gc
import json

from otaclient import protocol as p
from otaclient import updater as u
from otaclient.agent import Agent
from otaclient.checksums import checksum_of
from otaclient.updater import Updater

MIB = 1024 * 1024


def pattern(offset, length):
    """A reproducible image, computed piece by piece, never held whole."""
    return bytes(((offset + i) * 31 + 7) & 0xFF for i in range(length))


class FakeTransport:
    """The server as a device sees it, answering at once; can drop after n chunks."""

    def __init__(self, shared, size, drop_after=None):
        self.shared, self.size, self.drop_after = shared, size, drop_after
        self.agent = None
        self.telemetry = []
        self.served = 0
        self.cut = ()  # numbers of the replies (from 0) that lose their last byte on the way

    def send_telemetry(self, values):
        self.telemetry.append(values)

    def request_attributes(self, keys):
        self.agent.attributes(dict((k, v) for k, v in self.shared.items() if k in keys))

    def request_chunk(self, index, size):
        if self.drop_after is not None and self.served >= self.drop_after:
            raise OSError("connection dropped")
        self.served += 1
        start = min(index * size, self.size) if size else 0
        end = min(start + size, self.size) if size else self.size
        if self.served - 1 in self.cut:
            end -= 1
        return pattern(start, end - start)

    def states(self):
        return [t[p.state_key("fw")] for t in self.telemetry if p.state_key("fw") in t]


class MemoryStore:
    def __init__(self, keep=True):
        self.keep = keep
        self.image = bytearray()
        self.length = 0
        self.progress = None

    def write(self, offset, data):
        assert offset == self.length, "writes arrive in order"
        self.length += len(data)
        if self.keep:
            self.image.extend(data)

    def read(self, offset, length):
        return bytes(self.image[offset : offset + length])

    def discard(self):
        self.image, self.length = bytearray(), 0

    def save_progress(self, progress):
        self.progress = progress


class Installer:
    def __init__(self):
        self.installed = None

    def install(self, target, store):
        self.installed = (target["title"], target["version"], store.length)
        return True, None


def shared_for(size, algorithm, checksum):
    return {
        "fw_title": "demo",
        "fw_version": "2.0",
        "fw_size": size,
        "fw_checksum_algorithm": algorithm,
        "fw_checksum": checksum,
    }


def make(shared, size, chunk, store=None, progress=None, drop_after=None):
    transport = FakeTransport(shared, size, drop_after)
    agent = Agent(
        Updater("fw", "demo", "1.0", chunk, progress),
        transport,
        store or MemoryStore(),
        Installer(),
    )
    transport.agent = agent
    return agent, transport


def check_checksums(vectors):
    for case in vectors["checksums"]:
        data = pattern(0, case["size"])
        got = checksum_of(case["algorithm"], data)
        assert got == case["text"], (case, got)


def check_update(vectors):
    size = 10000
    agent, transport = make(shared_for(size, "SHA256", vectors["sha256_10000"]), size, 1000)
    agent.handle(agent.updater.start())
    assert transport.states() == ["DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED"], (
        transport.states()
    )
    assert bytes(agent.store.image) == pattern(0, size)
    assert agent.installer.installed == ("demo", "2.0", size)
    assert transport.telemetry[-1] == {
        "current_fw_title": "demo",
        "current_fw_version": "2.0",
        "fw_state": "UPDATED",
    }
    assert agent.store.progress is None


def check_every_algorithm(vectors):
    for case in vectors["checksums"]:
        if case["size"] != 3000:
            continue
        agent, transport = make(shared_for(3000, case["algorithm"], case["text"]), 3000, 512)
        agent.handle(agent.updater.start())
        assert transport.states()[-1] == "UPDATED", (case["algorithm"], transport.telemetry)


def check_bad_checksum():
    agent, transport = make(shared_for(5000, "SHA256", "00" * 32), 5000, 1000)
    agent.handle(agent.updater.start())
    assert transport.states()[-1] == "FAILED"
    assert "checksum mismatch" in transport.telemetry[-1]["fw_error"]
    assert agent.installer.installed is None and agent.store.length == 0


def check_short_replies(vectors):
    size, chunk = 10000, 1000
    shared = shared_for(size, "SHA256", vectors["sha256_10000"])
    agent, transport = make(shared, size, chunk)
    transport.cut = (2, 3, 9)  # the third chunk comes short twice, the last one once
    agent.handle(agent.updater.start())
    assert transport.states()[-1] == "UPDATED", transport.telemetry
    assert bytes(agent.store.image) == pattern(0, size)
    assert transport.served == 13
    # A link that always cuts the same chunk short gives up after a few tries.
    agent, transport = make(shared, size, chunk)
    transport.cut = tuple(range(1, 100))
    agent.handle(agent.updater.start())
    assert transport.states()[-1] == "FAILED"
    assert "chunk 1 came short 4 times" in transport.telemetry[-1]["fw_error"], transport.telemetry
    assert transport.served == 5


def check_resume(vectors):
    size, chunk = 10000, 1000
    shared = shared_for(size, "SHA256", vectors["sha256_10000"])
    store = MemoryStore()
    agent, _ = make(shared, size, chunk, store, drop_after=4)
    try:
        agent.handle(agent.updater.start())
        raise AssertionError("the connection should have dropped")
    except OSError:
        pass
    saved = store.progress
    assert saved["received"] == 4000, saved
    # A reboot: a new updater with the saved progress and the same stored bytes.
    again, transport2 = make(shared, size, chunk, store, progress=saved)
    again.handle(again.updater.start())
    assert transport2.states()[-1] == "UPDATED"
    assert again.fetched == size - 4000  # nothing fetched twice
    assert bytes(store.image) == pattern(0, size)


def check_backoff():
    updater = Updater("fw", "a", "1", 100)
    delays = []
    for _ in range(12):
        updater.transport_failed(0, 0.999)
        delays.append(updater.retry_at)
    assert delays[0] <= 1000 and delays[1] <= 2000 and delays[-1] <= 300000
    updater = Updater("fw", "a", "1", 100)
    updater.transport_failed(0, 0.0)
    assert updater.retry_at == 500  # half the delay with the smallest jitter


class SteppingTransport(FakeTransport):
    """Answers chunk requests later, when step() says so, as MQTT does."""

    def __init__(self, shared, size):
        FakeTransport.__init__(self, shared, size)
        self.pending = None

    def request_chunk(self, index, size):
        self.pending = (index, size)
        return None

    def step(self, chunks):
        for _ in range(chunks):
            if self.pending is None:
                return False
            index, size = self.pending
            self.pending = None
            self.agent.chunk(FakeTransport.request_chunk(self, index, size))
        return self.pending is not None


class HeapRun:
    """A 1 MiB download with a store that writes through, a few chunks per step.

    The WebAssembly port collects garbage only between calls into Python, so the download runs
    as many calls; between them `sample()` measures what is still referenced.
    """

    def __init__(self, vectors):
        size = MIB
        self.transport = SteppingTransport(shared_for(size, "SHA256", vectors["sha256_mib"]), size)
        self.agent = Agent(
            Updater("fw", "demo", "1.0", 4096), self.transport, MemoryStore(keep=False), Installer()
        )
        self.transport.agent = self.agent
        self.base = self.peak = 0

    def begin(self):
        """Measures the heap before the download, in a call of its own, then starts it."""
        gc.collect()
        self.base = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
        self.agent.handle(self.agent.updater.start())

    def step(self):
        return self.transport.step(16)

    def sample(self):
        gc.collect()
        if hasattr(gc, "mem_alloc"):
            self.peak = max(self.peak, gc.mem_alloc() - self.base)

    def finish(self):
        assert self.agent.updater.state == "UPDATED", self.agent.updater.state
        assert self.agent.store.length == MIB
        print("PEAK_HEAP %d" % self.peak)


def check_incoming_topics():
    """Each kind of incoming MQTT message is told apart by its topic; another connection's
    chunk answers are not ours."""
    assert p.incoming("v1/devices/me/attributes", "fw", 2) == (p.PUSH, None)
    assert p.incoming("v1/devices/me/attributes/response/17", "fw", 2) == (
        p.ATTRIBUTES_RESPONSE,
        17,
    )
    assert p.incoming("v2/fw/response/2/chunk/40", "fw", 2) == (p.CHUNK, 40)
    assert p.incoming("v2/fw/response/1/chunk/40", "fw", 2) == (None, None)
    assert p.incoming("v2/sw/response/2/chunk/3", "fw", 2) == (None, None)
    assert p.incoming("v2/sw/response/2/chunk/3", "sw", 2) == (p.CHUNK, 3)
    assert p.incoming("v2/fw/error", "fw", 2) == (p.OTA_ERROR, None)


def check_interrupted():
    """A dropped connection takes the queued requests with it, not the device's own work."""
    agent = Agent(None, None, None, None)
    agent.handle([])
    agent._queue = [
        (u.REQUEST_CHUNK, 3, 100),
        (u.INSTALL, {}),
        (u.REQUEST_ATTRIBUTES, []),
        (u.TELEMETRY, {"fw_state": "UPDATING"}),
    ]
    agent._running = True
    agent.interrupted()
    assert [a[0] for a in agent._queue] == [u.INSTALL, u.TELEMETRY]
    assert not agent._running


def main(vectors):
    check_checksums(vectors)
    check_update(vectors)
    check_every_algorithm(vectors)
    check_bad_checksum()
    check_short_replies(vectors)
    check_resume(vectors)
    check_backoff()
    check_incoming_topics()
    check_interrupted()
    print("CORE OK")


try:
    import sys

    if sys.implementation.name == "micropython":
        with open("/data/vectors.json") as file:
            VECTORS = json.load(file)
        main(VECTORS)
        heap = HeapRun(VECTORS)  # run.mjs calls heap.step() and heap.sample() until done
except ImportError:
    pass
