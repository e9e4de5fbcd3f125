"""otaload's command-line options, added to Locust's own (they show in `locust --help` and the
web UI, and Locust hands them to workers in distributed mode)."""

from __future__ import annotations

from typing import Any

# The scenarios, each a Locust tag: `--tags campaign` runs the campaign.
STEADY, CAMPAIGN, STORM, WAVES = "steady", "campaign", "storm", "waves"
SCENARIOS = (STEADY, CAMPAIGN, STORM, WAVES)


def add_arguments(parser: Any) -> None:
    """Locust's `init_command_line_parser` hook: `parser` is its configargparse parser."""
    group = parser.add_argument_group("otaload: the server and its devices")
    group.add_argument(
        "--start-local",
        action="store_true",
        default=False,
        help="Start otakit on free local ports for this run (overrides --host and the ports).",
    )
    group.add_argument("--mqtt-port", type=int, default=1883, help="The server's MQTT port.")
    group.add_argument("--coap-port", type=int, default=5683, help="The server's CoAP port.")
    group.add_argument(
        "--username", default="tenant@thingsboard.org", help="A tenant administrator's login."
    )
    group.add_argument("--password", default="tenant", help="Its password.")
    group.add_argument(
        "--devices",
        type=int,
        default=0,
        help="Devices to make in a new profile (0: one per device user). Ignored with "
        "--tokens-csv or --device-profile.",
    )
    group.add_argument(
        "--device-profile",
        default="",
        help="Use the devices of this existing profile, their tokens read from the REST API "
        "(the campaign assigns to it).",
    )
    group.add_argument(
        "--tokens-csv",
        default="",
        help="Use these devices: a CSV file with the header name,token (with --device-profile "
        "for the campaign's assignment).",
    )
    group.add_argument(
        "--package-type",
        default="FIRMWARE",
        choices=["FIRMWARE", "SOFTWARE"],
        help="What to update.",
    )
    group.add_argument(
        "--package-size", type=int, default=64 * 1024, help="The uploaded package's size, bytes."
    )
    group.add_argument(
        "--checksum-algorithm",
        default="SHA256",
        help="The package's checksum algorithm (MD5, SHA256, SHA384, SHA512, CRC32, MURMUR3_32, "
        "MURMUR3_128).",
    )
    group.add_argument(
        "--chunk-size", type=int, default=16 * 1024, help="Bytes per chunk request (0: whole)."
    )
    group.add_argument(
        "--source-addresses",
        default="",
        help="Comma-separated local IPs the devices' sockets bind to, in turn: beyond one IP's "
        "ephemeral ports (about 28 000 per server port) on large runs.",
    )
    group.add_argument(
        "--request-timeout", type=float, default=30.0, help="A device's wait for any answer, s."
    )

    group = parser.add_argument_group("otaload: scenarios")
    group.add_argument(
        "--pack-size",
        type=int,
        default=100,
        help="The server's TB_QUEUE_CORE_FW_PACK_SIZE: set with --start-local, checked by "
        "--check-pace.",
    )
    group.add_argument(
        "--pack-interval-ms",
        type=int,
        default=1000,
        help="The server's TB_QUEUE_CORE_FW_PACK_INTERVAL_MS (as --pack-size).",
    )
    group.add_argument(
        "--settle-s",
        type=float,
        default=2.0,
        help="After every user is spawned, the operator waits this long before assigning.",
    )
    group.add_argument(
        "--updating-fraction",
        type=float,
        default=0.1,
        help="steady: the share of devices that get the package (assigned device by device).",
    )
    group.add_argument(
        "--telemetry-interval-s",
        type=float,
        default=5.0,
        help="steady: each device sends telemetry this often.",
    )
    group.add_argument(
        "--storm-after-s",
        type=float,
        default=1.0,
        help="storm: every device drops its connection this long after the assignment.",
    )
    group.add_argument("--wave-count", type=int, default=4, help="waves: steps to reach --users.")
    group.add_argument("--wave-s", type=float, default=10.0, help="waves: seconds per step.")
    group.add_argument(
        "--inject-fault",
        default="",
        help="With --start-local: one of otakit's deliberate faults (OTAKIT_INJECT_FAULTS), to "
        "see the run fail.",
    )

    group.add_argument(
        "--stop-when-done",
        action="store_true",
        default=False,
        help="End the run once every device the package was assigned to reports UPDATED or "
        "FAILED (else at --run-time).",
    )

    group = parser.add_argument_group("otaload: thresholds (a run past one exits with code 1)")
    group.add_argument(
        "--max-fail-ratio",
        type=float,
        default=0.0,
        help="Failed requests over all requests, 0 to 1 (default 0: any failure fails the run).",
    )
    group.add_argument(
        "--max-percentile",
        action="append",
        default=[],
        metavar="TYPE:NAME:PERCENT:MS",
        help="A percentile of one metric at most MS, e.g. MQTT:chunk:99:500 (repeatable).",
    )
    group.add_argument(
        "--check-pace",
        action="store_true",
        default=False,
        help="Fail when more than --pack-size notifications arrive within --pack-interval-ms.",
    )
    group.add_argument(
        "--pace-tolerance-ms",
        type=float,
        default=100.0,
        help="--check-pace counts arrivals within the interval less this (at most half of it): "
        "a pack whose pushes take longer to arrive must not count into the next.",
    )
    group.add_argument(
        "--expect-updated",
        action="store_true",
        default=False,
        help="Fail unless every device told of the package reports UPDATED before the end.",
    )
