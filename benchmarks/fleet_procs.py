"""Child processes of benchmarks.fleet and the CPU each side spends.

The devices run in spawned children (the machine's cores are shared with the server, so one
client process would be the limit long before the server). Each child talks to the parent over a
Pipe; every wait on the pipe is bounded.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import psutil

MARGIN_S = 60.0  # a child's own start and stop, on top of a phase's timeout


def receive(conn: Connection, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no word from the other process within {timeout:.0f} s")
    got = conn.recv()
    if isinstance(got, BaseException):  # a child's failure, raised in the parent
        raise got
    return got


def own_cpu() -> float:
    """User and system CPU seconds of this process."""
    times = os.times()
    return times.user + times.system


def tree_cpu(process: psutil.Process) -> float:
    """User and system CPU seconds of the process and its live children."""
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def postgres_cpu() -> float:
    """CPU seconds of every process named postgres: the database's share of the server's work."""
    total = 0.0
    for each in psutil.process_iter(["name", "cpu_times"]):
        times = each.info["cpu_times"]
        if each.info["name"] == "postgres" and times is not None:
            total += times.user + times.system
    return total


def machine_busy() -> float:
    """CPU seconds every core of the machine spent busy (not idle, not waiting on I/O): what
    is left after the server, PostgreSQL and the clients is other work sharing the machine."""
    times = psutil.cpu_times()
    idle = float(times.idle) + float(getattr(times, "iowait", 0.0))
    return float(sum(times)) - idle


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard one: each connection is a descriptor on each side, and
    the server and the children inherit the limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass
class Children:
    """Spawned children running one target each, with a pipe to each."""

    processes: list[BaseProcess]
    conns: list[Connection]

    @classmethod
    def spawn(cls, target: Callable[..., None], jobs: list[Any]) -> Children:
        context = multiprocessing.get_context("spawn")
        processes: list[BaseProcess] = []
        conns: list[Connection] = []
        for job in jobs:
            ours, theirs = context.Pipe()
            child = context.Process(target=target, args=(job, theirs), daemon=True)
            child.start()
            processes.append(child)
            conns.append(ours)
        return cls(processes, conns)

    def send(self, message: Any) -> None:
        for conn in self.conns:
            conn.send(message)

    def gather(self, timeout: float) -> list[Any]:
        """One message from each child, all within `timeout` seconds in total."""
        deadline = time.monotonic() + timeout
        return [receive(conn, max(0.0, deadline - time.monotonic())) for conn in self.conns]

    def finish(self) -> None:
        for child in self.processes:
            child.join(MARGIN_S)
            if child.is_alive():
                child.kill()
                child.join()


def report_failure(conn: Connection, error: BaseException) -> None:
    """A child's exception goes to the parent, which raises it (a pickled copy, text if not)."""
    try:
        conn.send(error)
    except Exception:
        conn.send(RuntimeError(f"{type(error).__name__}: {error}"))
