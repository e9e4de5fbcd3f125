"""`--start-local`: otakit's own server, started for one run of the suite (by otatarget.local,
so the suite still never imports the server), with a queue fast enough to check its pace."""

from __future__ import annotations

import secrets

from otatarget.local import LocalServer
from otatarget.local import start as start_server

from .target import OTAKIT_MQTT_MAX_CHUNK

# A fast pace, so that the pace itself is checked within seconds.
PACK_SIZE, PACK_INTERVAL_MS = 10, 1000
MQTT_MAX_CHUNK = OTAKIT_MQTT_MAX_CHUNK  # the server starts with its default


def start(faults: str = "", database_url: str = "") -> tuple[LocalServer, bytes]:
    """otakit on free ports with a fresh data directory, a fast queue, and a tenant of its own;
    and the key it signs its tokens with, which the expired-token checks need."""
    jwt_key = secrets.token_hex(32)
    settings = {
        "OTAKIT_JWT_SECRET": jwt_key,
        "OTAKIT_INJECT_FAULTS": faults,
        "OTAKIT_DATABASE_URL": database_url,
        "OTAKIT_QUEUE_PACK_SIZE": str(PACK_SIZE),
        "OTAKIT_QUEUE_PACK_INTERVAL_MS": str(PACK_INTERVAL_MS),
    }
    return start_server(settings, name="conformance"), jwt_key.encode()
