"""`otakit conformance`: runs the suite against a server and writes JUnit XML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from .target import OTAKIT_MQTT_MAX_CHUNK, THINGSBOARD_MQTT_MAX_CHUNK

CHECKS = Path(__file__).parent / "checks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otakit conformance", description=__doc__)
    parser.add_argument("--url", help="REST and HTTP device API, e.g. http://host:8080")
    parser.add_argument("--mqtt", help="MQTT host:port")
    parser.add_argument("--coap", help="CoAP host:port")
    parser.add_argument("--username", default="tenant@thingsboard.org")
    parser.add_argument("--password", default="tenant")
    parser.add_argument("--sysadmin-username")
    parser.add_argument("--sysadmin-password")
    parser.add_argument(
        "--jwt-signing-key",
        help="the key the target signs its tokens with, for the expired-token checks "
        "(`base64:...` for ThingsBoard's JWT_TOKEN_SIGNING_KEY)",
    )
    parser.add_argument("--pack-size", type=int, default=100)
    parser.add_argument("--pack-interval-ms", type=int, default=60000)
    parser.add_argument(
        "--mqtt-max-chunk",
        type=int,
        help=f"the largest MQTT chunk the target serves (default: otakit's "
        f"{OTAKIT_MQTT_MAX_CHUNK}; with --thingsboard ThingsBoard's {THINGSBOARD_MQTT_MAX_CHUNK})",
    )
    parser.add_argument(
        "--notify-timeout", type=float, default=120.0, help="seconds to wait for the queue"
    )
    parser.add_argument(
        "--no-shrink", action="store_true", help="do not shrink failing examples (faster)"
    )
    parser.add_argument("--start-local", action="store_true", help="start otakit for the run")
    parser.add_argument(
        "--local-database-url", help="with --start-local: run it on this database (PostgreSQL)"
    )
    parser.add_argument(
        "--thingsboard",
        action="store_true",
        help="the target is ThingsBoard: leave out the checks of otakit's own extensions and "
        "expect ThingsBoard's limits",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep what the checks created (deleted at the end of the run by default)",
    )
    parser.add_argument(
        "--expected-failures",
        help="a file of the checks this target is known to fail (one per line, the reason after "
        "#); a listed check that passes fails the run",
    )
    parser.add_argument("--junitxml", default="conformance-report.xml")
    parser.add_argument(
        "pytest_args",
        nargs="*",
        help="more pytest arguments (after --); paths among them run instead of every check",
    )
    args = parser.parse_args(argv)
    chosen = [arg for arg in args.pytest_args if not arg.startswith("-") and Path(arg).exists()]
    options = [
        *([] if chosen else [str(CHECKS)]),
        "-p",
        "otaconformance.plugin",
        "--confcutdir",
        str(CHECKS),
        "--junitxml",
        args.junitxml,
        "-p",
        "no:cacheprovider",
        "-q",
        "--pack-size",
        str(args.pack_size),
        "--pack-interval-ms",
        str(args.pack_interval_ms),
        "--notify-timeout",
        str(args.notify_timeout),
        "--username",
        args.username,
        "--password",
        args.password,
    ]
    for flag, value in (
        ("--mqtt-max-chunk", args.mqtt_max_chunk and str(args.mqtt_max_chunk)),
        ("--server-url", args.url),
        ("--mqtt", args.mqtt),
        ("--coap", args.coap),
        ("--sysadmin-username", args.sysadmin_username),
        ("--sysadmin-password", args.sysadmin_password),
        ("--local-database-url", args.local_database_url),
        ("--expected-failures", args.expected_failures),
        ("--jwt-signing-key", args.jwt_signing_key),
    ):
        if value:
            options += [flag, value]
    for flag, given in (
        ("--start-local", args.start_local),
        ("--no-shrink", args.no_shrink),
        ("--thingsboard", args.thingsboard),
        ("--keep", args.keep),
    ):
        if given:
            options.append(flag)
    return int(pytest.main(options + args.pytest_args))


if __name__ == "__main__":
    sys.exit(main())
