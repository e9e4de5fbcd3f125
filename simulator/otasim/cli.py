"""`otakit simulate`: a virtual fleet against any ThingsBoard-compatible server, and its report.

    otakit simulate --start-local --devices 1000 --report ./report
    otakit simulate --url http://tb:8080 --mqtt tb:1883 --coap tb:5683 \\
        --username tenant@thingsboard.org --password tenant --devices 500 --seed 7
    otakit simulate --replay sim7-00042 --trace ./report/trace.jsonl [--url ...]
    otakit simulate merge part1/summary.json part2/summary.json --report ./all

The exit code is 0 when every device ended as its fault model predicts, the server recorded it,
and the server's notification pace held; 1 otherwise; 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from otasim import campaign, workers
from otasim.campaign import Config, Server
from otasim.device import DeviceSettings
from otasim.faults import DEFAULT_MIX, MODELS, parse_mix
from otasim.fleet import DEFAULT_CHUNK_SIZES, DEFAULT_TRANSPORTS, parse_shard
from otasim.replay import replay
from otasim.report_html import write_report
from otasim.summary import merge, summarize
from otasim.trace import read_trace

DEFAULT_REPORT = "otasim-report"
LOCAL_STUCK_S = 15  # --start-local's DOWNLOADING stuck timeout: longer than any healthy download


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otakit simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_argument_group("the server")
    target.add_argument("--url", default="http://localhost:8080", help="REST and HTTP device API")
    target.add_argument("--mqtt", default="localhost:1883", help="HOST:PORT of its MQTT API")
    target.add_argument("--coap", default="localhost:5683", help="HOST:PORT of its CoAP API")
    target.add_argument("--username", default="tenant@thingsboard.org", help="a tenant admin")
    target.add_argument("--password", default="tenant")
    target.add_argument(
        "--start-local",
        action="store_true",
        help="start otakit for this run (fresh data, the pack size and interval given here)",
    )
    target.add_argument("--database-url", default="", help="with --start-local: its database")
    target.add_argument(
        "--inject-faults", default="", help="with --start-local: otakit's own server faults"
    )
    fleet = parser.add_argument_group("the fleet")
    fleet.add_argument("--devices", type=int, default=100)
    fleet.add_argument(
        "--tokens",
        default="",
        help="a CSV file (header name,token) of devices an operator made, used instead of new "
        "ones (the fleet is its rows); with --profile, the profile they are in",
    )
    fleet.add_argument("--seed", type=int, default=1, help="decides every random choice")
    fleet.add_argument(
        "--faults",
        default="default",
        help="shares per fault model, e.g. bad_checksum=1%%,disconnect=5%%; 'default': "
        f"{DEFAULT_MIX.replace('%', '%%')}; 'none': a healthy fleet. Models: {', '.join(MODELS)}",
    )
    fleet.add_argument("--transports", default=DEFAULT_TRANSPORTS, help="weights per transport")
    fleet.add_argument("--chunk-sizes", default=DEFAULT_CHUNK_SIZES, help="weights per size")
    fleet.add_argument("--image-size", type=int, default=256 * 1024, help="bytes")
    fleet.add_argument("--checksum", default="SHA256", help="the package's checksum algorithm")
    fleet.add_argument("--shard", default="1/1", help="i/n: this machine's share of the fleet")
    fleet.add_argument("--workers", type=int, default=1, help="processes (one per core)")
    run = parser.add_argument_group("the campaign")
    run.add_argument("--pack-size", type=int, default=100, help="the server's pack size")
    run.add_argument("--pack-interval-ms", type=int, default=1000, help="the server's interval")
    run.add_argument(
        "--stuck-timeout",
        type=int,
        default=LOCAL_STUCK_S,
        help="the server's DOWNLOADING stuck timeout in s; the stall fault outlasts it",
    )
    run.add_argument(
        "--assign",
        choices=("profile", "devices", "wait"),
        default="profile",
        help="assign the package to the fleet's profile, to each device, or wait for an operator",
    )
    run.add_argument("--profile", default="", help="an existing profile's name (else a new one)")
    run.add_argument("--timeout", type=float, default=600, help="seconds the campaign may take")
    run.add_argument("--report", default=DEFAULT_REPORT, help="directory for the report")
    run.add_argument("--replay", default="", help="rerun one device of --trace alone")
    run.add_argument("--trace", default="", help="the trace to replay from")
    return parser


def config_from(args: argparse.Namespace) -> Config:
    faults = {"default": DEFAULT_MIX, "none": ""}.get(args.faults, args.faults)
    parse_mix(faults)
    parse_shard(args.shard)
    if args.devices < 1 or args.image_size < 1 or args.pack_size < 1 or args.workers < 1:
        raise ValueError("--devices, --image-size, --pack-size and --workers must be positive")
    # The offline fault comes back after the whole fleet has been notified.
    packs = math.ceil(args.devices / args.pack_size)
    device = DeviceSettings(
        stall_s=args.stuck_timeout + 5.0,
        offline_s=packs * args.pack_interval_ms / 1000 + 2.0,
    )
    return Config(
        devices=args.devices,
        seed=args.seed,
        faults=faults,
        transports=args.transports,
        chunk_sizes=args.chunk_sizes,
        image_size=args.image_size,
        algorithm=args.checksum.upper(),
        shard=args.shard,
        pack_size=args.pack_size,
        pack_interval_ms=args.pack_interval_ms,
        assign=args.assign,
        profile=args.profile,
        tokens_csv=args.tokens,
        timeout_s=args.timeout,
        device=device,
    )


def config_of_trace(path: Path) -> Config:
    """The Config a trace was made with, from its first line."""
    for event in read_trace(path):
        if event.get("event") == "run":
            saved: dict[str, Any] = dict(event["config"])
            device = DeviceSettings(**saved.pop("device", {}))
            known = {f.name for f in fields(Config)}
            return Config(**{k: v for k, v in saved.items() if k in known}, device=device)
    raise ValueError(f"{path} has no run event: not an otasim trace")


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _start_local(args: argparse.Namespace, config: Config) -> tuple[Server, Any]:
    from otatarget import local

    settings = {
        "OTAKIT_QUEUE_PACK_SIZE": str(config.pack_size),
        "OTAKIT_QUEUE_PACK_INTERVAL_MS": str(config.pack_interval_ms),
        "OTAKIT_OTA_STUCK_TIMEOUTS": f"DOWNLOADING={args.stuck_timeout}",
        "OTAKIT_INJECT_FAULTS": args.inject_faults,
        "OTAKIT_DATABASE_URL": args.database_url,
    }
    started = local.start(settings)
    username, password = started.tenant_admin
    server = Server(started.url, started.mqtt, started.coap, username, password)
    _print(f"otasim: started otakit at {started.url} (log: {started.log})")
    return server, started


def simulate(args: argparse.Namespace) -> int:
    config = config_from(args)
    report_dir = Path(args.report)
    report_dir.mkdir(parents=True, exist_ok=True)
    local = None
    server = Server(args.url, args.mqtt, args.coap, args.username, args.password)
    if args.start_local:
        server, local = _start_local(args, config)
    try:
        if args.replay:
            return replay_device(args, server, report_dir)
        trace = report_dir / "trace.jsonl"
        if args.workers > 1:
            traces = workers.run(server, config, report_dir, args.workers, _print)
        else:
            asyncio.run(campaign.run(server, config, trace, report=_print))
            traces = [trace]
    finally:
        if local is not None:
            local.stop()
    events = [event for path in traces for event in read_trace(path)]
    summary = summarize(events)
    return _conclude(summary, report_dir)


def replay_device(args: argparse.Namespace, server: Server, report_dir: Path) -> int:
    if not args.trace:
        raise ValueError("--replay needs --trace, the trace the device ran in")
    config = config_of_trace(Path(args.trace))
    same, lines = asyncio.run(
        replay(server, config, Path(args.trace), args.replay, report_dir, _print)
    )
    for line in lines:
        print(line)
    return 0 if same else 1


def _conclude(summary: dict[str, Any], report_dir: Path) -> int:
    json_path, html_path = write_report(summary, report_dir)
    pace = summary["pace"]
    print(
        json.dumps(
            {
                "ok": summary["ok"],
                "devices": summary["devices"],
                "final_states": summary["final_states"],
                "mismatches": len(summary["mismatches"]),
                "max_in_window": pace["max_in_window"],
                "pack_size": summary["pack_size"],
                "pace_violations": pace["violations"],
                "allowed_rate_fraction": pace["allowed_rate_fraction"],
                "notified_twice": len(summary["notified_twice"]),
                "never_notified": len(summary["never_notified"]),
                "report": str(html_path),
                "summary": str(json_path),
            }
        )
    )
    for mismatch in summary["mismatches"][:20]:
        _print(f"mismatch: {json.dumps(mismatch)}")
    return 0 if summary["ok"] else 1


def merge_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="otakit simulate merge",
        description="One report from several shards' (or machines') summary.json files.",
    )
    parser.add_argument("summaries", nargs="+", help="summary.json files")
    parser.add_argument("--report", default=DEFAULT_REPORT, help="directory for the report")
    args = parser.parse_args(argv)
    parts = [json.loads(Path(path).read_text()) for path in args.summaries]
    return _conclude(merge(parts), Path(args.report))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["merge"]:
            return merge_main(argv[1:])
        return simulate(_parser().parse_args(argv))
    except (ValueError, OSError) as error:
        print(f"otakit simulate: {error}", file=sys.stderr)
        return 2
