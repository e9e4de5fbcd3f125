"""Slow HTTP clients in a process of their own: `python -m tests.support.slowloris PORT COUNT`.

Holds COUNT connections from 127.0.0.2 that send a header line a second and never finish the
request, opening a new one whenever the server closes one. Prints "ready" once nine in ten are
held; when a line arrives on stdin, stops and prints one JSON line: how many were held at most,
how long each closed one lived, and the first bytes the server answered on each.

A process of its own, so that its thousands of sockets do not count against the test process
(whose select()-based clients, paho among them, stop working past descriptor 1024).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


class Slowloris:
    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.held = self.most_held = 0
        self.ready = False
        self.lifetimes: list[float] = []
        self.answers: list[str] = []
        self.stopping = asyncio.Event()

    async def hold_one(self) -> None:
        while not self.stopping.is_set():
            opened = time.monotonic()
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", self.port, local_addr=("127.0.0.2", 0)
                )
            except OSError:
                await asyncio.sleep(0.1)
                continue
            self.held += 1
            self.most_held = max(self.most_held, self.held)
            if not self.ready and self.held >= self.count * 9 // 10:
                self.ready = True
                print("ready", flush=True)
            writer.write(b"GET /api/noauth/slow HTTP/1.1\r\nHost: x\r\n")
            answer = None
            while not self.stopping.is_set():
                try:
                    answer = await asyncio.wait_for(reader.read(4096), 1.0)
                    break  # the server answered or closed: this one is over
                except TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
                except OSError:
                    answer = b""
                    break
            self.held -= 1
            if answer is not None:
                self.lifetimes.append(time.monotonic() - opened)
                self.answers.append(answer.decode("latin-1"))
            writer.close()

    async def run(self) -> None:
        holders = [asyncio.create_task(self.hold_one()) for _ in range(self.count)]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)
        self.stopping.set()
        await asyncio.gather(*holders)


def main() -> None:
    attack = Slowloris(int(sys.argv[1]), int(sys.argv[2]))
    asyncio.run(attack.run())
    print(
        json.dumps(
            {
                "most_held": attack.most_held,
                "lifetimes": attack.lifetimes,
                "answers": attack.answers,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
