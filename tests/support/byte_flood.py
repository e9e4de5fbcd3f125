"""Sending many byte streams to a TCP server, each on its own connection, many at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class FloodReport:
    sent: int = 0
    seconds: float = 0.0
    refused: int = 0  # the connection could not be opened
    # Inputs whose connection the server had not closed `linger` seconds after our half-close.
    stuck: list[bytes] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def flood(
    port: int,
    inputs: Iterator[bytes],
    count: int,
    seconds: float,
    parallel: int = 48,
    linger: float = 60.0,
) -> FloodReport:
    """Sends up to `count` inputs within `seconds`, `parallel` connections at a time.

    Each input is written whole, then our side of the connection is shut (so a server waiting
    for more sees the end at once), and its answers are read until the server closes.
    """
    return asyncio.run(_flood(port, inputs, count, seconds, parallel, linger))


async def _flood(
    port: int, inputs: Iterator[bytes], count: int, seconds: float, parallel: int, linger: float
) -> FloodReport:
    report = FloodReport()
    started = time.monotonic()
    deadline = started + seconds

    def take() -> bytes | None:
        if report.sent >= count or time.monotonic() > deadline:
            return None
        report.sent += 1
        return next(inputs)

    async def worker() -> None:
        while (data := take()) is not None:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                report.refused += 1
                continue
            try:
                # No drain before reading: a server blocked on writing its answers to us
                # would otherwise wait for us while we wait for it.
                writer.write(data)
                writer.write_eof()
                async with asyncio.timeout(linger):
                    while await reader.read(1 << 16):
                        pass
            except TimeoutError:
                report.stuck.append(data)
            except (ConnectionError, OSError):
                pass  # the server closed on us mid-write: the answer to a broken input
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()

    await asyncio.gather(*(worker() for _ in range(parallel)))
    report.seconds = time.monotonic() - started
    return report
