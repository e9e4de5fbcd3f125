"""The web console at fleet size: the dashboard's first view and how far behind it runs live.

One otakit runs as a subprocess (otatarget.local) with a tenant of `--devices` devices on one
profile, all assigned one package (so every one is on the dashboard). Debian's Chromium, driven
by Playwright, opens the console as the tenant administrator.

- first view: from navigating to #/dashboard until the cards show the fleet's total and the table
  its first rows, `--views` times (a fresh tab each time), beside the same on a tenant of
  `--baseline-devices` devices in the same run: the ratio says what fleet size costs.
- live: `--rate` state changes a second (HTTP device telemetry, `fw_state` cycling through the
  download states, sent by this process at a fixed pace for `--seconds`) while the dashboard is
  open. Each row the page receives says when the server took that change (lastChange, the
  server's clock; browser and server share this machine's clock), and the page notes when it
  received it: the difference is how far behind the page is. Printed as p50/p99/max.
- cost: the server's CPU seconds over the same live run with the page open, beside a run of the
  same changes with no page open (the baseline), as a ratio and as CPU per second.

    python -m benchmarks.console [--devices 10000] [--rate 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import shutil
import statistics
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
from otasim import admin

from otatarget import local

CHROMIUM = Path("/usr/bin/chromium")
T = TypeVar("T")
DOWNLOAD_STATES = ("DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING")
# Ready: the cards have the fleet's total and the table shows rows (the page's own marks).
READY = """total => {
  const live = window.otakitLive;
  const rows = document.querySelectorAll('main table tbody tr td').length;
  return Boolean(live && live.events.length && live.events[0].total === total && rows > 1);
}"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--baseline-devices", type=int, default=100)
    parser.add_argument("--views", type=int, default=5)
    parser.add_argument("--rate", type=int, default=200, help="state changes per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16, help="REST calls at once")
    return parser.parse_args()


async def make_fleet(server: local.LocalServer, count: int, concurrency: int) -> list[str]:
    """`count` devices on a new profile with a package assigned; their access tokens."""
    user, password = server.tenant_admin
    async with await admin.login(server.url, user, password) as r:
        profile = await r.create_profile(f"console-{count}-{time.time_ns()}")
        began = time.monotonic()
        names = [f"console-{count}-{n:05d}" for n in range(count)]
        devices = await r.create_devices(profile, names, concurrency)
        print(f"created {count} devices in {time.monotonic() - began:.1f} s", flush=True)
        package = await r.upload_package(profile, "console", f"v{count}", b"\x5a" * 4096, "SHA256")
        await r.assign_to_profile(profile, package)
    return [token for _, token in devices]


def first_view(browser: Any, server: local.LocalServer, total: int, views: int) -> list[float]:
    """Seconds from navigation to a dashboard showing `total` devices and its first rows."""
    user, password = server.tenant_admin
    times = []
    for _ in range(views):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        login(page, server.url, user, password)
        began = time.perf_counter()
        page.goto(f"{server.url}/#/dashboard")
        page.wait_for_function(READY, arg=total, timeout=60_000)
        times.append(time.perf_counter() - began)
        context.close()
    return times


def login(page: Any, url: str, user: str, password: str) -> None:
    response = page.request.post(
        f"{url}/api/web/session", data={"username": user, "password": password}
    )
    assert response.ok, response.text()


async def drive(url: str, tokens: list[str], rate: int, seconds: float) -> int:
    """`rate` state reports a second for `seconds`, each from the next device in turn."""
    sent = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        began = time.monotonic()
        pending: set[asyncio.Task[httpx.Response]] = set()
        while (elapsed := time.monotonic() - began) < seconds:
            due = int(elapsed * rate) + 1
            while sent < due:
                token = tokens[sent % len(tokens)]
                state = DOWNLOAD_STATES[(sent // len(tokens)) % len(DOWNLOAD_STATES)]
                body = {"fw_state": state}
                pending.add(
                    asyncio.ensure_future(client.post(f"/api/v1/{token}/telemetry", json=body))
                )
                sent += 1
            done = {task for task in pending if task.done()}
            for task in done:
                task.result().raise_for_status()
            pending -= done
            await asyncio.sleep(1 / rate)
        for response in await asyncio.gather(*pending):
            response.raise_for_status()
    return sent


def cpu_of(process: psutil.Process, work: Callable[[], int]) -> tuple[float, int]:
    before = process.cpu_times()
    result = work()
    after = process.cpu_times()
    return (after.user - before.user) + (after.system - before.system), result


def live(
    browser: Any, server: local.LocalServer, tokens: list[str], args: argparse.Namespace
) -> None:
    process = psutil.Process(server.process.pid)

    def run(seconds: float = args.seconds) -> int:
        return in_thread(drive(server.url, tokens, args.rate, seconds))

    run(min(5.0, args.seconds))  # warm-up: connections, caches; not counted
    before_cpu, before_sent = cpu_of(process, run)

    user, password = server.tenant_admin
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, server.url, user, password)
    page.goto(f"{server.url}/#/dashboard")
    page.wait_for_function(READY, arg=len(tokens), timeout=60_000)
    page.evaluate("window.otakitLive.events.length = 0")
    live_cpu, sent = cpu_of(process, run)
    time.sleep(2)  # the last changes' events
    events = page.evaluate("window.otakitLive.events")
    context.close()
    # The baseline is the mean of a run before and a run after the page's: the server's cost
    # for the same changes drifts as its tables grow.
    after_cpu, after_sent = cpu_of(process, run)
    baseline_cpu, baseline_sent = (before_cpu + after_cpu) / 2, (before_sent + after_sent) // 2

    lags = sorted(lag for event in events for lag in event.get("lags", []))
    rows = len(lags)
    print(
        f"live: {sent} changes in {args.seconds:.0f} s ({sent / args.seconds:.0f}/s), "
        f"{len(events)} events, {rows} rows received"
    )
    if lags:
        print(
            "live staleness (server took the change -> page received it): "
            f"p50 {percentile(lags, 50):.0f} ms, p99 {percentile(lags, 99):.0f} ms, "
            f"max {lags[-1]:.0f} ms (goal: at most 1000 ms)"
        )
    print(
        f"server CPU over the run: {live_cpu:.2f} s with the dashboard open, "
        f"{baseline_cpu:.2f} s without (baseline: {before_cpu:.2f} s before, {after_cpu:.2f} s "
        f"after, {baseline_sent} changes); "
        f"ratio {live_cpu / baseline_cpu:.2f}x, "
        f"{(live_cpu - baseline_cpu) / args.seconds * 1000:.0f} ms CPU per second for the page"
    )


def in_thread(work: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to its end in a thread of its own: Playwright's sync API keeps an event
    loop running in this one, where asyncio.run() may not start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def percentile(ordered: list[float], pct: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main() -> None:
    args = parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        results: dict[int, list[float]] = {}
        for count in (args.baseline_devices, args.devices):
            server = local.start({"OTAKIT_LOG_LEVEL": "warning"}, name=f"console-{count}")
            try:
                tokens = in_thread(make_fleet(server, count, args.concurrency))
                results[count] = first_view(browser, server, count, args.views)
                median = statistics.median(results[count])
                print(
                    f"first view, {count} devices: median {median:.3f} s, "
                    f"max {max(results[count]):.3f} s over {args.views} views (goal: under 1 s)",
                    flush=True,
                )
                if count == args.devices:
                    live(browser, server, tokens, args)
            finally:
                server.stop()
                shutil.rmtree(server.data_dir, ignore_errors=True)
        browser.close()
    ratio = statistics.median(results[args.devices]) / statistics.median(
        results[args.baseline_devices]
    )
    print(f"first view: {args.devices} devices / {args.baseline_devices} devices = {ratio:.2f}x")


if __name__ == "__main__":
    main()
