"""otaload's Locust event listeners: options, the local server, the fleet, the go signal, the
end of the run and its verdict. The locustfile adds them; a locustfile of one's own can too."""

from __future__ import annotations

import logging
import shutil
from typing import Any

import gevent
import httpx
from locust import FastHttpUser, events
from locust.runners import WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC
from otatarget.rest import RestError

from otaload import options as opts
from otaload import run
from otaload.fleet import Fleet, endpoints, prepare
from otaload.run import RUN
from otaload.thresholds import PercentileLimit, verdict

log = logging.getLogger("otaload")
logging.getLogger("httpx").setLevel(logging.WARNING)  # the fleet's setup: a line per device
DONE_POLL_S = 0.5


class Hooks:
    local_server: Any = None


def install() -> None:
    hooks: Any = events  # Locust's event hooks carry no types
    hooks.init_command_line_parser.add_listener(opts.add_arguments)
    hooks.init.add_listener(on_init)
    hooks.test_start.add_listener(on_test_start)
    hooks.spawning_complete.add_listener(on_spawning_complete)
    hooks.quitting.add_listener(on_quitting)


def leads(runner: Any) -> bool:
    """The master, or a lone process: where the fleet is made and the verdict given."""
    return runner is not None and not isinstance(runner, WorkerRunner)


def on_init(environment: Any, **_: Any) -> None:
    global _environment
    _environment = environment
    runner = environment.runner
    if runner is None:
        return
    options = environment.parsed_options
    for text in options.max_percentile:
        PercentileLimit.parse(text)  # a typo fails now, not after the run
    run.register(runner)
    RUN.on_fleet.append(lambda fleet: set_host(environment, fleet.url))
    if leads(runner) and options.start_local:
        start_local(options)


def start_local(options: Any) -> None:
    from otatarget import local

    settings = {
        "OTAKIT_QUEUE_PACK_SIZE": str(options.pack_size),
        "OTAKIT_QUEUE_PACK_INTERVAL_MS": str(options.pack_interval_ms),
    }
    if options.inject_fault:
        settings["OTAKIT_INJECT_FAULTS"] = options.inject_fault
    server = local.start(settings, "otaload")
    Hooks.local_server = server
    options.host = server.url
    options.mqtt_port = int(server.mqtt.rsplit(":", 1)[1])
    options.coap_port = int(server.coap.rsplit(":", 1)[1])
    options.username, options.password = server.tenant_admin
    log.info(
        "otaload: otakit started locally at %s (its data, removed at the end: %s)",
        server.url,
        server.data_dir,
    )


def set_host(environment: Any, url: str) -> None:
    """HTTP users (devices and the operator) talk to the fleet's server."""
    environment.host = url
    for user_class in environment.user_classes:
        if issubclass(user_class, FastHttpUser):
            user_class.host = url


def on_test_start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if not leads(runner) or RUN.fleet is not None:
        return
    options = environment.parsed_options
    url = (options.host or "").rstrip("/")
    if not url:
        raise ValueError("otaload needs the server's URL: --host, or --start-local")
    mqtt, coap = endpoints(url, options.mqtt_port, options.coap_port)
    # One device per device user: the users less the fixed ones (the operator).
    devices = options.devices or max(1, options.num_users - fixed_users(environment))
    try:
        fleet: Fleet = prepare(
            url,
            (options.username, options.password),
            mqtt,
            coap,
            devices=devices,
            profile=options.device_profile,
            tokens_csv=options.tokens_csv,
        )
    except (OSError, ValueError, RestError, httpx.HTTPError) as error:
        # No fleet, no run: say why and stop, rather than leave the users waiting for one.
        log.error("otaload: cannot prepare the fleet: %s", error)
        environment.process_exit_code = 2
        gevent.spawn(runner.quit)
        return
    set_host(environment, url)
    log.info("otaload: %d devices in profile %s", len(fleet.devices), fleet.profile_id)
    run.hand_out(runner, fleet)
    if options.stop_when_done:
        gevent.spawn(stop_when_done, runner)


def on_spawning_complete(user_count: int, **_: Any) -> None:
    runner = _runner()
    if leads(runner) and not RUN.go_planned:
        RUN.go_planned = True
        devices = user_count - fixed_users(runner.environment)
        run.signal_go_after(runner, devices, runner.environment.parsed_options.settle_s)


def fixed_users(environment: Any) -> int:
    """The users of fixed count (the operator): not devices."""
    return sum(c.fixed_count for c in environment.user_classes)


_environment: Any = None


def _runner() -> Any:
    return _environment.runner if _environment is not None else None


def stop_when_done(runner: Any) -> None:
    while True:
        gevent.sleep(DONE_POLL_S)
        tally = run.counts(runner)
        if RUN.expected and tally.updated + tally.failed >= RUN.expected:
            log.info("otaload: all %d devices are done; stopping", RUN.expected)
            # Locust rewrites its CSV files every CSV_STATS_INTERVAL_SEC and not at the end:
            # one more round, so that they hold the last updates.
            gevent.sleep(CSV_STATS_INTERVAL_SEC * 1.5)
            runner.quit()
            return


def on_quitting(environment: Any, **_: Any) -> None:
    runner = environment.runner
    try:
        if leads(runner):
            tally = run.counts(runner)
            log.info(
                "otaload: %d devices told of the package, %d UPDATED, %d FAILED, %d pushes",
                tally.told,
                tally.updated,
                tally.failed,
                len(tally.pushes),
            )
            broken = verdict(environment.stats, environment.parsed_options, tally)
            for reason in broken:
                log.error("otaload: threshold passed: %s", reason)
            if environment.process_exit_code is None:
                # The thresholds decide, not Locust's rule of exit code 1 on any failure: a run
                # may allow some (--max-fail-ratio).
                environment.process_exit_code = 1 if broken else 0
    finally:
        server, Hooks.local_server = Hooks.local_server, None
        if server is not None:
            server.stop()
            shutil.rmtree(server.data_dir, ignore_errors=True)  # a large run's is tens of MB
