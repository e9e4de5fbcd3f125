"""`otakit` on the command line: `otakit serve` and friends."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence

import uvicorn

from .settings import SETTINGS, SettingsError, load_settings


def _serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the OTA server")
    for spec in SETTINGS:
        if spec.default is False:
            serve.add_argument(
                spec.flag, action="store_true", default=None, help=f"{spec.help} [{spec.env}]"
            )
        else:
            serve.add_argument(
                spec.flag,
                default=None,
                metavar=spec.name.upper(),
                help=f"{spec.help} [{spec.env}, default {spec.default}]",
            )


def serve(values: dict[str, object]) -> int:
    try:
        settings = load_settings(values, os.environ)
    except SettingsError as error:
        print(f"otakit: {error.message}", file=sys.stderr)
        return 2
    from .app import create_app
    from .descriptors import fit_connection_bounds
    from .throttled_log import ThrottledLog
    from .transports.http_listener import guarded_protocol

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    bounds = fit_connection_bounds(settings.http_max_connections, settings.mqtt_max_connections)
    if bounds.warning:
        logging.getLogger("otakit").warning(bounds.warning)
    settings = dataclasses.replace(
        settings, http_max_connections=bounds.http, mqtt_max_connections=bounds.mqtt
    )
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        timeout_graceful_shutdown=5,
        http=guarded_protocol(
            settings.http_header_timeout,
            settings.http_body_timeout,
            settings.http_max_connections,
            ThrottledLog(logging.getLogger("otaserver.http"), settings.log_repeat_seconds),
        ),
    )
    uvicorn.Server(config).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # These two are whole programs with their own options; they get the rest as it is.
    if arguments[:1] == ["device"]:
        from otaclient.device import main as device_main

        return int(device_main(arguments[1:]))
    if arguments[:1] == ["conformance"]:
        try:
            from otaconformance.cli import main as conformance_main
        except ImportError as missing:
            print(
                f"otakit conformance needs {missing.name}: pip install 'otakit[conformance]'",
                file=sys.stderr,
            )
            return 2
        return int(conformance_main(arguments[1:]))
    from importlib.metadata import version

    parser = argparse.ArgumentParser(prog="otakit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"otakit {version('otakit')}")
    commands = parser.add_subparsers(dest="command", required=True)
    _serve_parser(commands)
    commands.add_parser("device", help="run a virtual device (otakit device -h)")
    commands.add_parser("conformance", help="run the conformance suite (otakit conformance -h)")
    args = vars(parser.parse_args(arguments))
    args.pop("command")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
