"""Carries out the updater's actions with a transport, an image store and an installer.

Still no sockets here: the three are handed in. Actions go through a queue, not recursion, so a
transport that answers a chunk request at once (HTTP, CoAP) does not deepen the stack per chunk.
"""

from otaclient import protocol as p
from otaclient import updater as u

REHASH_PIECE = 4096


class Agent:
    def __init__(self, updater, transport, store, installer, on_state=None):
        self.updater = updater
        # Called with (state, telemetry) for each state the updater reports, as it reports it:
        # DOWNLOADED, VERIFIED and UPDATING come out of one event, so watching `updater.state`
        # between events would miss them.
        self.on_state = on_state
        self.transport = transport
        self.store = store
        self.installer = installer
        self._queue = []
        self._running = False
        self.fetched = 0  # bytes received from the network, to show that resuming skips some

    @property
    def finished(self):
        return self.updater.state in ("UPDATED", "FAILED")

    def reset(self):
        """After a transport error: what was queued belongs to a connection that is gone."""
        self._queue = []
        self._running = False

    def interrupted(self):
        """After a transport error, keeping the device's own work: requests queued for the lost
        connection go (the updater asks again once reconnected), while storing, installing and
        reports stay queued, to go on with the next handle()."""
        self._queue = [
            a for a in self._queue if a[0] not in (u.REQUEST_CHUNK, u.REQUEST_ATTRIBUTES)
        ]
        self._running = False

    def handle(self, actions):
        self._queue.extend(actions)
        if self._running:
            return  # the outer call drains the queue
        self._running = True
        try:
            while self._queue:
                self._do(self._queue.pop(0))
        finally:
            self._running = False

    # Events from the transport.
    def attributes(self, values):
        self.handle(self.updater.attributes(values))

    def chunk(self, data):
        self.fetched += len(data)
        self.handle(self.updater.chunk(data))

    def failed(self, now_ms, rand):
        self.handle(self.updater.transport_failed(now_ms, rand))

    def tick(self, now_ms):
        self.handle(self.updater.tick(now_ms))

    def _do(self, action):
        kind = action[0]
        if kind == u.TELEMETRY:
            state = action[1].get(p.state_key(self.updater.kind))
            if state is not None and self.on_state is not None:
                self.on_state(state, action[1])
            self.transport.send_telemetry(action[1])
        elif kind == u.REQUEST_ATTRIBUTES:
            self.transport.request_attributes(action[1])
        elif kind == u.REQUEST_CHUNK:
            data = self.transport.request_chunk(action[1], action[2])
            if data is not None:  # answered at once; otherwise it arrives as an event
                self.chunk(data)
        elif kind == u.WRITE:
            self.store.write(action[1], action[2])
        elif kind == u.SAVE:
            self.store.save_progress(action[1])
        elif kind == u.DISCARD:
            self.store.discard()
        elif kind == u.REHASH:
            offset, length = 0, action[1]
            while offset < length:
                piece = self.store.read(offset, min(REHASH_PIECE, length - offset))
                self.updater.stored(piece)
                offset += len(piece)
            self._queue.extend(self.updater.resume())
        elif kind == u.INSTALL:
            ok, error = self.installer.install(action[1], self.store)
            self._queue.extend(self.updater.installed(ok, error))
