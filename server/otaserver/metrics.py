"""The server's Prometheus metrics, in a registry of its own (one per app, so that tests running
several apps in one process do not share counters).

Counters and histograms are updated where things happen (a chunk served, a device notified);
the gauges that describe state (connected devices, queue depth, devices per status) are set from
the session registry and the database when /metrics is scraped, so they cannot drift.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .services.monitoring import FleetCounts
from .sessions import SessionRegistry, Transport

CONTENT_TYPE = CONTENT_TYPE_LATEST
# From a 1 KiB CoAP block on loopback (well under a millisecond) to a 1 MiB MQTT chunk over a
# slow link (seconds).
CHUNK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, memory, fds
        self._connected = Gauge(
            "otakit_devices_connected",
            "Device sessions open on this process: MQTT connections, CoAP observations, "
            "HTTP long polls",
            ["transport"],
            registry=self.registry,
        )
        self._queue_depth = Gauge(
            "otakit_queue_depth",
            "Devices QUEUED, waiting for the update queue to notify them (all processes)",
            registry=self.registry,
        )
        self._notifications = Counter(
            "otakit_notifications",
            "Devices this process's update queue told of their package (INITIATED)",
            registry=self.registry,
        )
        self._devices = Gauge(
            "otakit_devices",
            "Devices with an assigned package, per package type and update status "
            "(all processes); statuses outside ThingsBoard's eight count as OTHER",
            ["type", "status"],
            registry=self.registry,
        )
        self._chunk_seconds = Histogram(
            "otakit_chunk_request_seconds",
            "Time to answer one chunk request (a CoAP block request each), until its last "
            "byte is written",
            ["transport"],
            buckets=CHUNK_BUCKETS,
            registry=self.registry,
        )
        for transport in Transport:
            self._connected.labels(transport.value)
        # Each transport's histogram, looked up once: a chunk request is the hot path.
        self._chunk_histograms = {
            transport: self._chunk_seconds.labels(transport.value) for transport in Transport
        }

    def notified(self, devices: int = 1) -> None:
        self._notifications.inc(devices)

    @contextmanager
    def chunk(self, transport: Transport) -> Iterator[None]:
        """Times a chunk request; one that fails is not counted."""
        started = time.perf_counter()
        yield
        self._chunk_histograms[transport].observe(time.perf_counter() - started)

    def chunk_served(self, transport: Transport, seconds: float) -> None:
        self._chunk_histograms[transport].observe(seconds)

    def exposition(self, sessions: SessionRegistry, fleet: FleetCounts) -> bytes:
        """The text format Prometheus scrapes, with the state gauges read just now."""
        for transport in Transport:
            self._connected.labels(transport.value).set(sessions.open_sessions(transport))
        self._queue_depth.set(fleet.queue_depth)
        for (kind, status), devices in fleet.statuses.items():
            self._devices.labels(kind.value.lower(), status).set(devices)
        return generate_latest(self.registry)
