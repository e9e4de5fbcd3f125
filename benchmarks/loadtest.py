"""How many devices one Locust worker process holds through a whole OTA campaign.

Locust runs distributed, as in a real load test: a master process (`--start-local`: it starts
otakit on free ports, makes the fleet through the REST API, hands it out and gives the verdict)
and ONE worker process running `--users` MqttDevice users (MQTT 3.1.1, otaclient's Updater and
Agent each) plus the Operator, the campaign scenario (`--tags campaign --stop-when-done
--expect-updated`): every device connects, the operator uploads a small package and assigns it
to the fleet's profile, otakit notifies `--pack-size` devices per `--pack-interval-ms`, and each
device downloads, verifies and reports UPDATED. The same runs at `--baseline-users` first, and
the per-user figures are printed side by side with their ratio.

Measured here, outside Locust: the worker's CPU (user + system seconds, psutil, every
`--sample-s`), its peak RSS and open descriptors, its established TCP connections, and the CPU
of the master, of otakit and of the machine's other processes by phase (connecting, holding idle,
campaign: the phases' bounds come from Locust's history); from Locust: the peak user count and
the update's metrics (its CSV), and whether its logs warned of CPU above 90 % or of lost
heartbeats.

    python -m benchmarks.loadtest [--users 10000] [--baseline-users 1000] [--spawn-rate 200]

A second mode saves Locust's HTML report of a small campaign over all four transports and a
screenshot of it (Playwright, Debian's Chromium):

    python -m benchmarks.loadtest --html-report docs/loadtests/locust-report.png [--users 200]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "loadtests" / "otaload" / "locustfile.py"
CHROMIUM = Path("/usr/bin/chromium")
USERS, HTML_USERS = 10_000, 200
ALL_DEVICES = ("MqttDevice", "Mqtt5Device", "HttpDevice", "CoapDevice")
METRICS = ("connect", "notify", "chunk", "verified", "updated")
# What Locust logs when a process is short of CPU, or the master and a worker lose each other.
WARNINGS = {
    "CPU above 90 %": re.compile(
        r"CPU usage above \d+%|exceeded cpu threshold|CPU usage (was too high|threshold)"
    ),
    "heartbeat lost": re.compile(
        r"failed to send heartbeat|setting state to missing|Didn't get heartbeat|self-healed"
    ),
    "connection to master lost": re.compile(r"RPCError|connection lost to master", re.IGNORECASE),
}
Row = dict[str, str]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="device users of the run (10 000; 200 in the --html-report mode)",
    )
    parser.add_argument("--baseline-users", type=int, default=1000, help="0: no baseline run")
    parser.add_argument("--spawn-rate", type=float, default=200.0, help="users started per second")
    parser.add_argument("--package-size", type=int, default=4096, help="bytes")
    parser.add_argument("--chunk-size", type=int, default=4096, help="bytes per chunk request")
    parser.add_argument("--pack-size", type=int, default=1000, help="the server's notifications")
    parser.add_argument("--pack-interval-ms", type=int, default=1000, help="... per this")
    parser.add_argument("--settle-s", type=float, default=10.0, help="spawned to assignment")
    parser.add_argument("--run-time", type=int, default=1500, help="Locust's -t, seconds")
    parser.add_argument("--sample-s", type=float, default=0.5, help="psutil sampling period")
    parser.add_argument(
        "--html-report",
        type=Path,
        default=None,
        metavar="PNG",
        help="The other mode: a campaign of --users (default 200) devices over all four "
        "transports in one Locust process, its HTML report screenshotted to PNG (the report "
        "itself stays with --keep).",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs' files here")
    return parser.parse_args()


def raise_fd_limit() -> int:
    """The soft RLIMIT_NOFILE up to the hard one: Locust's processes and otakit (started by the
    master) inherit it; each device is a descriptor on both sides."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def start(args: list[str], workdir: Path, log: Path) -> subprocess.Popen[bytes]:
    """A process in a session of its own, so `stop` ends it with what it started (otakit)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            args, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM to its session (Locust stops otakit in its quitting hook), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)


def machine_busy() -> float:
    """CPU seconds every core of the machine spent busy (not idle, not waiting on I/O)."""
    times = psutil.cpu_times()
    return float(sum(times)) - float(times.idle) - float(getattr(times, "iowait", 0.0))


# ---- sampling the worker --------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # wall clock, s (Locust's CSV history is in wall-clock seconds too)
    cpu: float  # user + system seconds so far
    rss: int  # bytes
    fds: int


@dataclass
class Sampler:
    """Samples one process every `period` s in a thread (the process `pid`, or once it appears
    the first child of `parent` whose command line holds `marker`), and, with `tcp`, counts its
    established TCP connections every `tcp_period` s (that reads every socket of the machine)."""

    pid: int
    period: float
    tcp: bool = True
    tcp_period: float = 10.0
    parent: int = 0
    marker: str = ""
    samples: list[Sample] = field(default_factory=list)
    peak_tcp: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)

    machine: bool = False  # instead: the busy CPU seconds of every core of the machine

    def find(self) -> psutil.Process | None:
        if self.pid:
            return psutil.Process(self.pid)
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.parent).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if self.marker in " ".join(child.cmdline()):
                        return child
        return None

    def run(self) -> None:
        process = None
        next_tcp = 0.0
        while self.machine and not self.stopped.is_set():
            self.samples.append(Sample(time.time(), machine_busy(), 0, 0))
            self.stopped.wait(self.period)
        while not self.stopped.is_set():
            try:
                process = process or self.find()
                if process is None:
                    self.stopped.wait(self.period)
                    continue
                with process.oneshot():
                    times = process.cpu_times()
                    memory = process.memory_info()
                    fds = process.num_fds()
                now = time.time()
                self.samples.append(Sample(now, times.user + times.system, memory.rss, fds))
                if self.tcp and now >= next_tcp:
                    next_tcp = now + self.tcp_period
                    established = [
                        c
                        for c in process.net_connections(kind="tcp")
                        if c.status == psutil.CONN_ESTABLISHED
                    ]
                    self.peak_tcp = max(self.peak_tcp, len(established))
            except psutil.Error:
                return  # the process ended
            self.stopped.wait(self.period)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread

    def cpu_between(self, start: float, end: float) -> tuple[float, float]:
        """CPU seconds and wall seconds between the samples nearest `start` and `end`."""
        inside = [s for s in self.samples if start <= s.at <= end] or self.samples
        first, last = inside[0], inside[-1]
        return last.cpu - first.cpu, max(last.at - first.at, 1e-9)


# ---- one run --------------------------------------------------------------------------------


@dataclass
class Result:
    users: int
    master_code: int | None
    worker_code: int | None
    wall_s: float
    stats: dict[tuple[str, str], Row]
    failures: list[Row]
    history: list[Row]
    sampler: Sampler
    others: dict[str, Sampler]  # the master's and otakit's
    warnings: dict[str, list[str]]
    phases: dict[str, float]  # wall-clock times: first connect, all connected, last UPDATED
    master_tail: str

    def count(self, name: str, request_type: str = "MQTT") -> int:
        row = self.stats.get((request_type, name))
        return int(row["Request Count"]) if row else 0


def read_csv(path: Path) -> list[Row]:
    if not path.exists():
        return []
    with path.open(newline="") as rows:
        return list(csv.DictReader(rows))


def first_time(history: list[Row], name: str, at_least: int) -> float | None:
    """When Locust's history first shows `at_least` MQTT `name` requests (wall clock, s)."""
    for row in history:
        if (row["Type"], row["Name"]) != ("MQTT", name):
            continue
        if int(row["Total Request Count"]) >= at_least:
            return float(row["Timestamp"])
    return None


def run_campaign(users: int, args: argparse.Namespace, workdir: Path) -> Result:
    """A master and one worker through the campaign with `users` MqttDevice users."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    prefix = workdir / "run"
    master_args = locust(
        *("--master", "--headless", "--expect-workers", "1", "--expect-workers-max-wait", "60"),
        *("--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)),
        *("--csv", str(prefix), "--csv-full-history", "--only-summary", "--start-local"),
        *("-u", str(users + 1), "-r", str(args.spawn_rate), "-t", f"{args.run_time}s"),
        *("--tags", "campaign", "--stop-when-done", "--expect-updated"),
        *("--settle-s", str(args.settle_s), "--package-size", str(args.package_size)),
        *("--chunk-size", str(args.chunk_size), "--pack-size", str(args.pack_size)),
        *("--pack-interval-ms", str(args.pack_interval_ms)),
        *("MqttDevice", "Operator"),
    )
    worker_args = locust("--worker", "--master-host", "127.0.0.1", "--master-port", str(port))
    master_log, worker_log = workdir / "master.log", workdir / "worker.log"
    timeout = args.run_time + 300  # Locust's run time, and otakit's start and stop
    started = time.time()
    master = start(master_args, workdir, master_log)
    worker = start(worker_args, workdir, worker_log)
    sampler = Sampler(worker.pid, args.sample_s)
    others = {
        "master": Sampler(master.pid, args.sample_s, tcp=False),
        "otakit": Sampler(0, args.sample_s, tcp=False, parent=master.pid, marker="otaserver"),
        "machine": Sampler(0, args.sample_s, tcp=False, machine=True),
    }
    threads = [sampler.start()] + [other.start() for other in others.values()]
    master_code = worker_code = None
    try:
        with contextlib.suppress(subprocess.TimeoutExpired):
            master_code = master.wait(timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker_code = worker.wait(60)
    finally:
        for each in (sampler, *others.values()):
            each.stopped.set()
        for thread in threads:
            thread.join(30)
        stop(master)
        stop(worker)
    wall = time.time() - started
    logs = master_log.read_text(errors="replace") + worker_log.read_text(errors="replace")
    warnings = {
        what: [line for line in logs.splitlines() if pattern.search(line)]
        for what, pattern in WARNINGS.items()
    }
    history = read_csv(Path(f"{prefix}_stats_history.csv"))
    phases = {
        label: at
        for label, at in (
            ("first connect", first_time(history, "connect", 1)),
            ("all connected", first_time(history, "connect", users)),
            ("first notify", first_time(history, "notify", 1)),
            ("all updated", first_time(history, "updated", users)),
        )
        if at is not None
    }
    stats = {(r["Type"], r["Name"]): r for r in read_csv(Path(f"{prefix}_stats.csv"))}
    return Result(
        users,
        master_code,
        worker_code,
        wall,
        stats,
        read_csv(Path(f"{prefix}_failures.csv")),
        history,
        sampler,
        others,
        warnings,
        phases,
        master_log.read_text(errors="replace")[-3000:],
    )


# ---- printing -------------------------------------------------------------------------------


@dataclass
class Figures:
    """One run's figures per user, for the side-by-side table."""

    users: int
    cpu_s: float  # the worker's, from the first connect to the last UPDATED (or the run's end)
    cpu_share: float  # of one core, over the same span
    run_cpu_s: float  # the worker's over its whole life
    run_cpu_share: float
    peak_rss_mb: float
    rss_kb_per_user: float


def peak_users(history: list[Row]) -> int:
    counts = [int(r["User Count"]) for r in history if r.get("User Count", "").isdigit()]
    return max(counts, default=0)


PHASES = (
    ("connecting", "first connect", "all connected"),
    ("holding idle", "all connected", "first notify"),
    ("campaign", "first notify", "all updated"),
)


def phase_cpu(result: Result) -> None:
    """Each process's share of a core in each phase of the run (from Locust's history)."""
    spans = [
        (label, result.phases[a], result.phases[b])
        for label, a, b in PHASES
        if a in result.phases and b in result.phases and result.phases[b] - result.phases[a] >= 2
    ]
    if not spans:
        return
    lengths = ", ".join(f"{label} {b - a:.0f} s" for label, a, b in spans)
    print(f"CPU, % of one core, by phase: {lengths}")
    processes = {k: v for k, v in result.others.items() if k != "machine"}
    samplers = {"worker": result.sampler, **processes}
    for name, sampler in samplers.items():
        if not sampler.samples:
            continue
        shares = []
        for label, a, b in spans:
            used, wall = sampler.cpu_between(a, b)
            share = f"{100 * used / wall:.0f} %"
            if name == "worker" and label == "holding idle":
                share += f" ({1e6 * used / wall / result.users:.0f} us per user per second)"
            shares.append(f"{label} {share}")
        print(f"    {name:<7} " + ", ".join(shares))
    machine = result.others.get("machine")
    if machine is not None and machine.samples:
        shares = []
        for label, a, b in spans:
            busy, wall = machine.cpu_between(a, b)
            ours = sum(x.cpu_between(a, b)[0] for x in samplers.values() if x.samples)
            shares.append(f"{label} {100 * max(busy - ours, 0) / wall:.0f} %")
        print("    other   " + ", ".join(shares) + " (the machine's busy time less these three)")


def report(result: Result, args: argparse.Namespace) -> Figures:
    samples = result.sampler.samples
    users = result.users
    print(f"\n## {users} MqttDevice users (+1 Operator) on one Locust worker")
    print(f"exit codes: master {result.master_code}, worker {result.worker_code}")
    print(
        f"load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(
        f"wall time (master and worker, otakit's start and the fleet's setup included): "
        f"{result.wall_s:.0f} s"
    )
    if not samples:
        print("no sample of the worker was taken")
        return Figures(users, 0, 0, 0, 0, 0, 0)
    start = result.phases.get("first connect", samples[0].at)
    end = result.phases.get("all updated", samples[-1].at)
    cpu, span = result.sampler.cpu_between(start, end)
    run_cpu, run_span = result.sampler.cpu_between(samples[0].at, samples[-1].at)
    peak_rss = max(s.rss for s in samples)
    # Before its users: the worker's last sample a while before the first connect (Locust's
    # history has whole seconds), its imports done and its users not yet spawned.
    before = [s for s in samples if s.at <= start - 1.5] or samples[:1]
    idle_rss = before[-1].rss
    print(
        f"users held: MQTT connect {result.count('connect')} (failed "
        f"{_failures(result, 'connect')}), peak user count {peak_users(result.history)}, "
        f"peak established TCP connections of the worker {result.sampler.peak_tcp}, "
        f"peak descriptors {max(s.fds for s in samples)}"
    )
    t0 = result.phases.get("first connect")
    if t0 is not None:
        marks = ", ".join(f"{label} +{at - t0:.0f} s" for label, at in result.phases.items())
        print(f"timeline (Locust's history; the worker reports every 3 s): {marks}")
    print(
        f"worker CPU, first connect to all UPDATED ({span:.0f} s): {cpu:.1f} s user+sys, "
        f"{100 * cpu / span:.0f} % of a core; {1000 * cpu / users:.2f} ms per user"
    )
    phase_cpu(result)
    for name, other in result.others.items():
        if other.samples and name != "machine":
            used, _ = other.cpu_between(start, end)
            print(
                f"{name} CPU over the same span: {used:.1f} s, {100 * used / span:.0f} % of a "
                f"core; peak RSS {max(x.rss for x in other.samples) / 2**20:.0f} MB"
            )
    print(
        f"worker CPU over its whole life ({run_span:.0f} s, the fleet's setup included): "
        f"{run_cpu:.1f} s, {100 * run_cpu / run_span:.0f} % of a core"
    )
    print(
        f"worker RSS: peak {peak_rss / 2**20:.0f} MB (before the users {idle_rss / 2**20:.0f} MB); "
        f"{peak_rss / 1024 / users:.1f} KB per user (peak / users), "
        f"{(peak_rss - idle_rss) / 1024 / users:.1f} KB per user (peak - before)"
    )
    for what, lines in result.warnings.items():
        print(f"Locust warned '{what}': {'yes, ' + str(len(lines)) + ' lines' if lines else 'no'}")
        for line in lines[:3]:
            print(f"    {line.strip()[:160]}")
    print(
        f"{'metric':<14}{'count':>8}{'fails':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}"
    )
    for name in METRICS:
        row = result.stats.get(("MQTT", name))
        if row is None:
            print(f"MQTT {name:<9}{'-':>8}")
            continue
        print(
            f"MQTT {name:<9}{row['Request Count']:>8}{row['Failure Count']:>7}{row['50%']:>9}"
            f"{row['95%']:>9}{row['99%']:>9}{float(row['Max Response Time']):>9.0f}"
        )
    total = result.stats.get(("", "Aggregated"))
    if total is not None:
        print(f"all requests: {total['Request Count']}, failures {total['Failure Count']}")
    for failure in result.failures[:10]:
        print(
            f"failure: {failure['Method']} {failure['Name']}: {failure['Error'][:120]} "
            f"x{failure['Occurrences']}"
        )
    if result.master_code != 0:
        print("the master's log ends:\n" + result.master_tail)
    return Figures(
        users,
        cpu,
        cpu / span,
        run_cpu,
        run_cpu / run_span,
        peak_rss / 2**20,
        (peak_rss - idle_rss) / 1024 / users,
    )


def _failures(result: Result, name: str) -> str:
    row = result.stats.get(("MQTT", name))
    return row["Failure Count"] if row else "-"


def side_by_side(base: Figures, main: Figures) -> None:
    print(f"\n## per user: {main.users} beside the baseline {base.users}")
    print(f"{'figure':<44}{base.users:>12}{main.users:>12}{'ratio':>8}")
    rows = [
        ("worker CPU ms per user (connect to UPDATED)", base, main, "cpu"),
        ("worker RSS KB per user (peak - before)", base, main, "rss"),
    ]
    for label, b, m, which in rows:
        if which == "cpu":
            bv, mv = 1000 * b.cpu_s / b.users, 1000 * m.cpu_s / m.users
        else:
            bv, mv = b.rss_kb_per_user, m.rss_kb_per_user
        ratio = mv / bv if bv else float("nan")
        print(f"{label:<44}{bv:>12.2f}{mv:>12.2f}{ratio:>8.2f}")
    print(
        f"{'worker CPU share of a core (same span)':<44}{100 * base.cpu_share:>11.0f}%"
        f"{100 * main.cpu_share:>11.0f}%"
    )
    print(f"{'worker peak RSS MB':<44}{base.peak_rss_mb:>12.0f}{main.peak_rss_mb:>12.0f}")


# ---- the HTML report's screenshot -----------------------------------------------------------


def html_report(png: Path, args: argparse.Namespace, workdir: Path) -> int:
    """A campaign over all four transports in one Locust process, its HTML report in `workdir`
    (--keep it) and a screenshot of it (the top 1400 px) in `png`."""
    html = workdir / png.with_suffix(".html").name
    users = args.users or HTML_USERS
    command = locust(
        *("--headless", "--start-local", "-u", str(users + 1), "-r", "100", "-t", "120s"),
        *("--tags", "campaign", "--stop-when-done", "--expect-updated", "--settle-s", "2"),
        *("--pack-size", "50", "--pack-interval-ms", "500", "--html", str(html.resolve())),
        "--only-summary",
        *ALL_DEVICES,
        "Operator",
    )
    process = start(command, workdir, workdir / "locust.log")
    try:
        code = process.wait(300)
    finally:
        stop(process)
    print((workdir / "locust.log").read_text(errors="replace")[-2500:])
    print(f"locust exit code {code}; HTML report {html}")
    if not html.exists():
        return 1
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(html.resolve().as_uri(), wait_until="networkidle", timeout=60_000)
            page.wait_for_timeout(1500)  # the report's charts draw after load
            png.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(png), full_page=False, timeout=60_000)
        finally:
            browser.close()
    print(f"screenshot {png}")
    return code


def main() -> None:
    args = parse_args()
    hard = raise_fd_limit()
    keep = args.keep
    with tempfile.TemporaryDirectory(prefix="otaload-bench-") as scratch:
        workdir = keep or Path(scratch)
        if args.html_report is not None:
            sys.exit(html_report(args.html_report, args, workdir))
        args.users = args.users or USERS
        need = args.users + 1000
        print(
            f"RLIMIT_NOFILE {hard}, inherited by Locust's processes and otakit (each of the "
            f"worker and otakit needs ~{need})"
        )
        print(
            f"campaign: package {args.package_size} B in chunks of {args.chunk_size} B, otakit "
            f"notifies {args.pack_size} devices per {args.pack_interval_ms} ms, spawn rate "
            f"{args.spawn_rate:g}/s, settle {args.settle_s:g} s, Locust -t {args.run_time} s; "
            f"{os.cpu_count()} CPUs shared by otakit, the master and the worker"
        )
        results: list[Figures] = []
        failed = False
        for users in [u for u in (args.baseline_users, args.users) if u]:
            result = run_campaign(users, args, workdir / f"users-{users}")
            results.append(report(result, args))
            failed = failed or result.master_code != 0 or result.count("updated") != users
            sys.stdout.flush()
        if len(results) == 2:
            side_by_side(results[0], results[1])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
