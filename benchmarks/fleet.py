"""otakit's fleet figures on SQLite and PostgreSQL, each printed side by side with its goal.

    python -m benchmarks.fleet [--devices 10000] [--pace-devices 1000] [--db sqlite,postgresql]
        [--clients 2] [--skip fanout,campaign,pace,transports] [--timeout 600]

For each database otakit runs twice as a subprocess (otatarget.local), on a fresh database:

1. throttle off (pack 100 000 per 1 000 ms): `--devices` devices are made through the REST API,
   many requests at a time (timed, an informative row); they connect over MQTT as lean listeners
   (benchmarks.fleet_listeners) and a package is assigned to their profile: the POST's time and
   the fan-out rate from the assignment to the last push received. The package is then taken
   off the profile again, and the same devices run a campaign as otasim devices
   (benchmarks.fleet_campaign): a `--image-kib` image in 16 KiB chunks over MQTT, SHA-256
   verified, every state reported; assignment to the last UPDATED, and each chunk's round trip.
2. paced (pack `--pace-size` per `--pace-interval-ms`): `--pace-devices` other devices listen;
   the most pushes received in any interval-long window, and the share of the allowed rate
   achieved while a backlog remains.

The devices run in `--clients` spawned processes; the CPU of the server, PostgreSQL and the
clients over each phase is an informative row that says which side was busy. Rows from
benchmarks.fleet_transports (when that module exists) are appended: it defines
`run(args) -> list[Row]` and, if it needs options, `add_arguments(parser)`.

A device without its push, a device not UPDATED, or a phase past its timeout exits with status 1
once the table is printed. A goal missed does not: the table says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType

import psutil
from otasim import campaign

from benchmarks import fleet_phases as phases
from benchmarks.fleet_procs import raise_fd_limit
from benchmarks.fleet_rows import Row, print_table
from otatarget import local

POSTGRES_URL_ENV = "OTAKIT_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")
PHASES = ("fanout", "campaign", "pace", "transports")
TRANSPORTS_MODULE = "benchmarks.fleet_transports"
SEED = 7  # names the devices; any seed would do
THROTTLE_OFF = {"OTAKIT_QUEUE_PACK_SIZE": "100000", "OTAKIT_QUEUE_PACK_INTERVAL_MS": "1000"}


def parse_args(transports: ModuleType | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000, help="fan-out and campaign fleet")
    parser.add_argument("--pace-devices", type=int, default=1000)
    parser.add_argument("--pace-size", type=int, default=50, help="pack size of the pace run")
    parser.add_argument("--pace-interval-ms", type=int, default=2000)
    parser.add_argument("--image-kib", type=int, default=256, help="the campaign's image")
    parser.add_argument("--db", default=",".join(BACKENDS), help="sqlite,postgresql")
    parser.add_argument("--skip", default="", help=f"phases left out, of {','.join(PHASES)}")
    parser.add_argument("--clients", type=int, default=2, help="device processes")
    # SQLite made 300 devices fastest at 16-64 requests at a time (66/s at 4, 57/s at 128).
    parser.add_argument("--create-concurrency", type=int, default=32, help="REST requests")
    parser.add_argument("--connect-concurrency", type=int, default=50, help="per process")
    parser.add_argument("--wave", type=int, default=500, help="campaign connects, per process")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per wait")
    parser.add_argument("--campaign-timeout", type=float, default=1200.0, help="seconds")
    parser.add_argument("--postgres-url", default=os.environ.get(POSTGRES_URL_ENV, ""))
    parser.add_argument(
        "--progress", action="store_true", help="a campaign line per process every 10 s"
    )
    if transports is not None and hasattr(transports, "add_arguments"):
        transports.add_arguments(parser)
    args = parser.parse_args()
    for name, allowed in (("db", BACKENDS), ("skip", PHASES)):
        chosen = [item for item in getattr(args, name).split(",") if item]
        unknown = sorted(set(chosen) - set(allowed))
        if unknown:
            parser.error(f"--{name}: unknown {unknown}; choose from {','.join(allowed)}")
        setattr(args, name, chosen)
    if "postgresql" in args.db and not args.postgres_url:
        parser.error(f"PostgreSQL needs --postgres-url or {POSTGRES_URL_ENV}")
    return args


@contextlib.contextmanager
def fresh_database(backend: str, admin_url: str) -> Iterator[dict[str, str]]:
    """The server's database settings: SQLite in its data directory, or a new PostgreSQL
    database made from `admin_url` (an account that may create databases), dropped after."""
    if backend == "sqlite":
        yield {}
        return
    import asyncpg

    name = "otakit_bench_" + uuid.uuid4().hex[:12]

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield {"OTAKIT_DATABASE_URL": re.sub(r"/[^/]*$", "/" + name, admin_url)}
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def running(
    backend: str, args: argparse.Namespace, settings: dict[str, str]
) -> Iterator[phases.Target]:
    """otakit on a fresh database with `settings`, stopped and its data removed afterwards."""
    with fresh_database(backend, args.postgres_url) as database:
        started = local.start({**settings, **database}, name=f"fleet-{backend}")
        try:
            user, password = started.tenant_admin
            server = campaign.Server(started.url, started.mqtt, started.coap, user, password)
            yield phases.Target(server, psutil.Process(started.process.pid), backend)
        finally:
            started.stop()
            shutil.rmtree(started.data_dir, ignore_errors=True)


def throttle_off(backend: str, args: argparse.Namespace) -> phases.Target:
    """Device creation, fan-out and campaign on one server: the same devices throughout."""
    config = phases.fleet_config(args.devices, SEED, args.image_kib, args.campaign_timeout)
    plans = campaign.fleet_plan(config)
    with running(backend, args, THROTTLE_OFF) as target:
        profile, devices = phases.create_devices(target, plans, args, label=True)
        if "fanout" not in args.skip:
            phases.fanout_phase(target, profile, devices, args)
            phases.unassign(target, profile, args)
        if "campaign" not in args.skip:
            phases.campaign_phase(target, profile, config, plans, devices, args)
    return target


def paced(backend: str, args: argparse.Namespace) -> phases.Target:
    settings = {
        "OTAKIT_QUEUE_PACK_SIZE": str(args.pace_size),
        "OTAKIT_QUEUE_PACK_INTERVAL_MS": str(args.pace_interval_ms),
    }
    config = phases.fleet_config(args.pace_devices, SEED + 1, 1, args.timeout)
    plans = campaign.fleet_plan(config)
    with running(backend, args, settings) as target:
        profile, devices = phases.create_devices(target, plans, args, label=False)
        phases.pace_phase(target, profile, devices, args)
    return target


def transports_module() -> ModuleType | None:
    """The transport rows' module, written apart; None while it does not exist."""
    try:
        return importlib.import_module(TRANSPORTS_MODULE)
    except ModuleNotFoundError as error:
        if error.name != TRANSPORTS_MODULE:
            raise
        return None


def order(rows: list[Row]) -> list[Row]:
    """Each figure's rows together, SQLite before PostgreSQL; figures in the order measured."""
    figures = list(dict.fromkeys(row.figure for row in rows))
    rank = {backend: k for k, backend in enumerate(BACKENDS)}
    return sorted(rows, key=lambda r: (figures.index(r.figure), rank.get(r.backend, len(rank))))


def main() -> None:
    transports = transports_module()
    args = parse_args(transports)
    fds = raise_fd_limit()
    print(f"RLIMIT_NOFILE {fds}; {psutil.cpu_count()} CPUs; {args.clients} client processes")
    rows: list[Row] = []
    failures: list[str] = []
    for backend in args.db:
        runs = []
        if not {"fanout", "campaign"} <= set(args.skip):
            runs.append(throttle_off)
        if "pace" not in args.skip:
            runs.append(paced)
        for run in runs:
            try:
                target = run(backend, args)
            except Exception as error:  # the server did not start, a REST call failed...
                failures.append(f"{backend}: {run.__name__}: {type(error).__name__}: {error}")
                continue
            rows += target.rows
            failures += target.failures
    if "transports" not in args.skip:
        if transports is None:
            print(f"({TRANSPORTS_MODULE} is not there yet: no transport rows)")
        else:
            rows += transports.run(args)
    print()
    print_table(order(rows))
    if failures:
        print("\nfailed:\n" + "\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
