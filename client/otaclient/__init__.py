"""otakit's reference device client. The core (protocol, checksums, updater) runs unchanged on
MicroPython and CPython: it does no I/O and reads no clock; adapters (net_*, install) do."""
