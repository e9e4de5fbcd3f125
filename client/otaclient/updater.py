"""The update state machine, without I/O: it is handed events and returns actions.

Events: start(), attributes(values), chunk(data), stored(data) + resume(), installed(ok, error),
transport_failed(now_ms, rand), tick(now_ms), reconnected(). Actions are tuples whose first item
names them (MicroPython has no dataclasses):

    (TELEMETRY, values)           report telemetry
    (REQUEST_ATTRIBUTES, keys)    ask for shared attributes
    (REQUEST_CHUNK, index, size)  ask for chunk `index` of `size` bytes (0: the whole file)
    (WRITE, offset, data)         store received bytes at offset in the image being written
    (SAVE, progress)              persist progress (None: forget it), to resume after a reboot
    (REHASH, length)              feed the first `length` stored bytes to stored(), then resume()
    (DISCARD,)                    drop the partial image
    (INSTALL, target)             install the verified image, then call installed(ok, error)

The image is verified while it arrives; only the digest state and a few numbers live in memory.
"""

from otaclient import protocol as p
from otaclient.checksums import ALGORITHMS, new_digest

TELEMETRY = "telemetry"
REQUEST_ATTRIBUTES = "request_attributes"
REQUEST_CHUNK = "request_chunk"
WRITE = "write"
SAVE = "save"
REHASH = "rehash"
DISCARD = "discard"
INSTALL = "install"

BACKOFF_BASE_MS = 1000
BACKOFF_MAX_MS = 300000
# A chunk reply cut short is asked for again, this many times in a row at most.
MAX_SHORT_REPLIES = 3


class Updater:
    def __init__(self, kind, current_title, current_version, chunk_size, progress=None):
        self.kind = kind
        self.current_title = current_title
        self.current_version = current_version
        self.chunk_size = chunk_size
        self.state = p.IDLE
        self.target = None
        self.received = 0
        self.attempt = 0
        self.retry_at = None
        self._saved = progress
        self._digest = None
        self._shared = {}
        self._resync = False
        self._short = 0

    # ---- events ------------------------------------------------------------------------------

    def start(self):
        """First thing after connecting: say what runs here, ask what should."""
        return [
            (TELEMETRY, self._current()),
            (REQUEST_ATTRIBUTES, p.target_keys(self.kind)),
        ]

    def reconnected(self):
        """The connection came back: learn the target again; a download goes on where it was."""
        self._resync = True
        return [(REQUEST_ATTRIBUTES, p.target_keys(self.kind))]

    def attributes(self, values):
        """Shared attributes: an attribute response's `shared` part, or a push."""
        for key in values.get("deleted", ()):
            self._shared.pop(key, None)
        for key, value in values.items():
            if key != "deleted":
                self._shared[key] = value
        target = self._read_target()
        if target is None:
            return []
        if (target["title"], target["version"]) == (self.current_title, self.current_version):
            return []
        if self.state == p.DOWNLOADING and self._same(target, self.target):
            if self._resync:
                self._resync = False
                return [self._next_request()]
            return []
        if self.state in (p.DOWNLOADED, p.VERIFIED, p.UPDATING) and self._same(target, self.target):
            return []
        return self._begin(target)

    def stored(self, data):
        """Bytes kept from an earlier run, read back so the digest can go on."""
        self._digest.update(data)
        self.received += len(data)

    def resume(self):
        """After REHASH: go on downloading from the first byte not yet stored."""
        if self.received >= self.target["size"]:
            return self._finish()
        return [self._next_request()]

    def chunk(self, data):
        if self.state != p.DOWNLOADING:
            return []
        size = self.target["size"]
        if not data and self.received < size:
            return self._fail("download ended at byte %d of %d" % (self.received, size))
        if self.received + len(data) > size:
            return self._fail("more than the announced %d bytes arrived" % size)
        if self.chunk_size and len(data) < min(self.chunk_size, size - self.received):
            # Cut short on the way: storing it would shift every later byte. Ask again.
            self._short += 1
            if self._short > MAX_SHORT_REPLIES:
                return self._fail(
                    "chunk %d came short %d times" % (self.received // self.chunk_size, self._short)
                )
            return [self._next_request()]
        self._short = 0
        offset = self.received
        self._digest.update(data)
        self.received += len(data)
        self.attempt = 0
        actions = [(WRITE, offset, data), (SAVE, self._progress())]
        if self.received == size:
            return actions + self._finish()
        return actions + [self._next_request()]

    def installed(self, ok, error=None):
        if not ok:
            return self._fail(error or "installation failed")
        self.current_title, self.current_version = self.target["title"], self.target["version"]
        self.state = p.UPDATED
        report = self._current()
        report[p.state_key(self.kind)] = p.UPDATED
        return [(TELEMETRY, report), (SAVE, None)]

    def transport_failed(self, now_ms, rand):
        """A request got no answer or the connection dropped: try again later, with jitter.

        The delay doubles with each failure up to five minutes, and is spread over half to all
        of it (`rand` in [0, 1)), so that a fleet that lost the server does not come back at once.
        """
        delay = min(BACKOFF_MAX_MS, BACKOFF_BASE_MS << min(self.attempt, 20))
        self.attempt += 1
        self.retry_at = now_ms + int(delay * (0.5 + rand / 2))
        return []

    def tick(self, now_ms):
        if self.retry_at is None or now_ms < self.retry_at:
            return []
        self.retry_at = None
        if self.state == p.DOWNLOADING:
            return [self._next_request()]
        return [(REQUEST_ATTRIBUTES, p.target_keys(self.kind))]

    def announced(self):
        """The package the shared attributes announce (a dict), or None when they name none."""
        return self._read_target()

    # ---- internals ---------------------------------------------------------------------------

    def _current(self):
        return {
            p.current_title_key(self.kind): self.current_title,
            p.current_version_key(self.kind): self.current_version,
        }

    def _read_target(self):
        get = self._shared.get
        title, version = get(p.key(self.kind, "title")), get(p.key(self.kind, "version"))
        if title is None or version is None:
            return None
        return {
            "title": title,
            "version": version,
            "size": get(p.key(self.kind, "size")),
            "checksum": get(p.key(self.kind, "checksum")),
            "algorithm": get(p.key(self.kind, "checksum_algorithm")),
            "url": get(p.key(self.kind, "url")),
        }

    @staticmethod
    def _same(a, b):
        keys = ("title", "version", "size", "checksum", "algorithm")
        return b is not None and all(a[k] == b[k] for k in keys)

    def _report(self, state, error=None):
        self.state = state
        values = {p.state_key(self.kind): state}
        if error is not None:
            values[p.error_key(self.kind)] = error
        return (TELEMETRY, values)

    def _fail(self, error):
        return [self._report(p.FAILED, error), (DISCARD,), (SAVE, None)]

    def _begin(self, target):
        self.target, self.attempt, self.retry_at, self._resync = target, 0, None, False
        if target["url"]:
            return self._fail("URL packages are not supported by this client")
        if not isinstance(target["size"], int) or target["size"] < 0:
            return self._fail("the package announces no size")
        algorithm = target["algorithm"]
        if not algorithm or algorithm.upper() not in ALGORITHMS or not target["checksum"]:
            return self._fail("unsupported checksum algorithm %s" % algorithm)
        self._digest = new_digest(algorithm)
        self.received = 0
        saved, self._saved = self._saved, None
        actions = [self._report(p.DOWNLOADING)]
        if saved is not None and self._same(target, saved) and saved.get("received", 0) > 0:
            kept = saved["received"]
            if self.chunk_size:
                kept -= kept % self.chunk_size  # requests name whole chunks
            else:
                kept = 0  # a whole-file download cannot resume
            if kept:
                return actions + [(REHASH, kept)]
        return actions + [(DISCARD,), (SAVE, self._progress()), self._next_request()]

    def _next_request(self):
        if not self.chunk_size:
            return (REQUEST_CHUNK, 0, 0)
        return (REQUEST_CHUNK, self.received // self.chunk_size, self.chunk_size)

    def _progress(self):
        progress = dict(self.target)
        progress["received"] = self.received
        return progress

    def _finish(self):
        actions = [self._report(p.DOWNLOADED)]
        got, expected = self._digest.text(), str(self.target["checksum"]).lower()
        if got != expected:
            return actions + self._fail(
                "checksum mismatch: %s %s expected, %s received"
                % (self.target["algorithm"], expected, got)
            )
        return actions + [
            self._report(p.VERIFIED),
            self._report(p.UPDATING),
            (INSTALL, self.target),
        ]
