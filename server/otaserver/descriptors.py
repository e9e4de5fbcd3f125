"""Room in the process's file descriptors for every connection the settings allow.

Each HTTP and MQTT connection holds a descriptor. Were the bounds larger than the process may
open, accept() would fail before a bound was reached and the listeners would stop answering
anyone; so at start the soft limit is raised as far as needed (up to the hard limit), and where
even that is too little the bounds are lowered to fit, with a warning.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

# Descriptors besides connections: database pool, package files, logs, the CoAP socket.
RESERVED = 256


@dataclass(frozen=True)
class ConnectionBounds:
    http: int
    mqtt: int
    warning: str | None = None


def fit_connection_bounds(http: int, mqtt: int) -> ConnectionBounds:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = http + mqtt + RESERVED
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return ConnectionBounds(http, mqtt)
    room = max(2, soft - RESERVED)
    fitted_http = max(1, room * http // (http + mqtt))
    fitted_mqtt = max(1, room - fitted_http)
    return ConnectionBounds(
        fitted_http,
        fitted_mqtt,
        f"only {soft} file descriptors may be open (ulimit -n): connection limits lowered "
        f"from {http} HTTP and {mqtt} MQTT to {fitted_http} and {fitted_mqtt}",
    )
