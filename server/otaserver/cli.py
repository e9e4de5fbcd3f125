"""`otakit` on the command line: `otakit serve` and friends.

`otakit serve` starts in an order that leaves nothing half done: settings checked (a bad one
exits 2), every listener bound (a port in use exits 1), then the data directory and the database
(exit 1 when unusable), then what a first start creates, and only then the banner. A problem is
one line on stderr that names the setting, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import importlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import uvicorn

from .settings import SETTINGS, SettingsError, SettingSpec, load_settings

if TYPE_CHECKING:
    from .app import RunningServer
    from .listeners import Listeners
    from .settings import Settings

# How long stopping waits for HTTP requests in flight: an open long poll is answered at once,
# so this bounds only downloads, and keeps a stop under two seconds.
HTTP_GRACE_SECONDS = 1
BAD_SETTING, UNUSABLE_ENVIRONMENT = 2, 1
# What `otakit admin reset-password` reads of the settings: where the database is.
ADMIN_SETTINGS = ("data_dir", "database_url")


def _add_setting_flags(parser: argparse.ArgumentParser, specs: Iterable[SettingSpec]) -> None:
    for spec in specs:
        if spec.default is False:
            parser.add_argument(
                spec.flag, action="store_true", default=None, help=f"{spec.help} [{spec.env}]"
            )
        else:
            parser.add_argument(
                spec.flag,
                default=None,
                metavar=spec.name.upper(),
                help=f"{spec.help} [{spec.env}, default {spec.default}]",
            )


def _serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the OTA server")
    _add_setting_flags(serve, SETTINGS)


def _admin_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser("admin", help="look after the server's accounts")
    actions = admin.add_subparsers(dest="action", required=True)
    reset = actions.add_parser(
        "reset-password",
        help="give an account a new password (the system administrator's by default)",
        description="Sets a new password, ends the account's sessions and its login lockout. "
        "Works on the database of the same --data-dir / --database-url as `otakit serve`, "
        "running or not. A generated password goes to admin-password.txt in the data "
        "directory, readable only by its owner.",
    )
    reset.add_argument("--email", help="the account; default: the one system administrator")
    reset.add_argument("--password", help="the new password; default: a generated one")
    _add_setting_flags(reset, (spec for spec in SETTINGS if spec.name in ADMIN_SETTINGS))


def _problem(message: str, code: int) -> int:
    print(f"otakit: {message}", file=sys.stderr)
    return code


def serve(values: dict[str, object]) -> int:
    try:
        settings = load_settings(values, os.environ)
    except SettingsError as error:
        return _problem(error.message, BAD_SETTING)
    # Imported before logging is set up: alembic logs its plugins at import, at info level.
    from . import app  # noqa: F401
    from .descriptors import fit_connection_bounds
    from .listeners import StartupError, bind_listeners
    from .logs import configure as configure_logging

    configure_logging(settings.log_level, settings.log_format)
    bounds = fit_connection_bounds(settings.http_max_connections, settings.mqtt_max_connections)
    if bounds.warning:
        logging.getLogger("otakit").warning(bounds.warning)
    settings = dataclasses.replace(
        settings, http_max_connections=bounds.http, mqtt_max_connections=bounds.mqtt
    )
    try:
        listeners = bind_listeners(settings)
    except StartupError as error:
        return _problem(error.message, UNUSABLE_ENVIRONMENT)
    try:
        with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
            return runner.run(_serve(settings, listeners))
    except StartupError as error:
        return _problem(error.message, UNUSABLE_ENVIRONMENT)
    finally:
        listeners.close()


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The `event_loop` setting's loop: uvloop's when asked for or, for auto, installed."""
    from .listeners import StartupError

    if name == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")  # optional: not a dependency
    except ImportError:
        if name == "uvloop":
            raise StartupError("event_loop is uvloop, but uvloop is not installed") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _http_parser(name: str) -> str:
    """The `http_parser` setting's parser: httptools when asked for or, for auto, installed."""
    from .listeners import StartupError
    from .transports.http_listener import HTTPTOOLS_INSTALLED

    if name == "httptools" and not HTTPTOOLS_INSTALLED:
        raise StartupError("http_parser is httptools, but httptools is not installed")
    if name == "auto":
        return "httptools" if HTTPTOOLS_INSTALLED else "h11"
    return name


GC_THRESHOLD = 20_000


class _Server(uvicorn.Server):
    """uvicorn, told when to stop by otakit, and stopping the devices' side along with it."""

    def __init__(self, config: uvicorn.Config, running: RunningServer) -> None:
        super().__init__(config)
        self._running = running

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # SIGINT and SIGTERM are handled in _serve. uvicorn's own handling would raise them
        # again once stopped: a KeyboardInterrupt traceback, or death by SIGTERM.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(self._running.banner(), flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Long polls are answered and MQTT devices told while uvicorn closes its connections.
        await asyncio.gather(self._running.shut_down(), super().shutdown(sockets))


async def _serve(settings: Settings, listeners: Listeners) -> int:
    from .app import start
    from .throttled_log import ThrottledLog
    from .transports.http_listener import guarded_protocol

    starting = asyncio.ensure_future(start(settings, listeners))
    server: _Server | None = None
    stop_asked = False

    def stop() -> None:
        nonlocal stop_asked
        stop_asked = True
        if not starting.done():
            starting.cancel()
        elif server is not None:
            # A second Ctrl-C stops without waiting for requests in flight, as uvicorn's does.
            server.force_exit = server.should_exit
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    try:
        running = await starting
    except asyncio.CancelledError:
        return UNUSABLE_ENVIRONMENT  # stopped before it had started
    # What start-up made lives as long as the server: the cyclic collector need not walk it
    # again and again. And a collection per 700 new objects (Python's default) makes a storm
    # of connecting devices, each a few dozen objects, spend a third of its time collecting.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        config = uvicorn.Config(
            running.app,
            log_level=settings.log_level.lower(),
            log_config=None,  # logs.configure's format, also for uvicorn's access log
            lifespan="off",  # `start` and `RunningServer.close` do what a lifespan would
            timeout_graceful_shutdown=HTTP_GRACE_SECONDS,
            http=guarded_protocol(
                settings.http_header_timeout,
                settings.http_body_timeout,
                settings.http_max_connections,
                ThrottledLog(logging.getLogger("otaserver.http"), settings.log_repeat_seconds),
                _http_parser(settings.http_parser),
            ),
        )
        server = _Server(config, running)
        server.should_exit = stop_asked  # a signal between start-up and here
        await server.serve(sockets=[listeners.http])
    finally:
        await running.close()
    return 0


def reset_password(values: dict[str, object]) -> int:
    email, password = values.pop("email"), values.pop("password")
    assert email is None or isinstance(email, str)
    assert password is None or isinstance(password, str)
    try:
        settings = load_settings(values, os.environ)
    except SettingsError as error:
        return _problem(error.message, BAD_SETTING)
    from .app import reset_password as reset
    from .domain.errors import BadRequest, OtaError

    try:
        account, path = asyncio.run(reset(settings, email, password or ""))
    except BadRequest as error:
        return _problem(error.message, BAD_SETTING)
    except OtaError as error:
        return _problem(error.message, UNUSABLE_ENVIRONMENT)
    if path is None:
        print(f"otakit: {account} has the new password; their sessions are ended")
    else:
        print(f"otakit: {account} has a new password, in {path} (readable only by its owner)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # These are whole programs with their own options; they get the rest as it is.
    if arguments[:1] == ["simulate"]:
        from otasim.cli import main as simulate_main

        return int(simulate_main(arguments[1:]))
    if arguments[:1] == ["device"]:
        from otasim.device_cli import main as device_main

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
    if arguments[:1] == ["loadtest"]:
        from otaload.cli import main as loadtest_main

        return loadtest_main(arguments[1:])
    from importlib.metadata import version

    parser = argparse.ArgumentParser(prog="otakit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"otakit {version('otakit')}")
    commands = parser.add_subparsers(dest="command", required=True)
    _serve_parser(commands)
    _admin_parser(commands)
    commands.add_parser("device", help="run a virtual device (otakit device -h)")
    commands.add_parser("simulate", help="run a virtual fleet (otakit simulate -h)")
    commands.add_parser("conformance", help="run the conformance suite (otakit conformance -h)")
    commands.add_parser("loadtest", help="run Locust's load tests (otakit loadtest --help)")
    args = vars(parser.parse_args(arguments))
    command = args.pop("command")
    if command == "admin":
        args.pop("action")  # reset-password is the one action
        return reset_password(args)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
