"""aiocoap's client, driven synchronously from tests."""

from __future__ import annotations

import asyncio
import queue
import shutil
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import aiocoap
import pytest
from aiocoap.optiontypes import BlockOption

T = TypeVar("T")


class CoapClient:
    """A client context on an event loop of its own thread, so sync tests can call it."""

    def __init__(self, port: int) -> None:
        self.base = f"coap://127.0.0.1:{port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.context: aiocoap.Context = self.run(aiocoap.Context.create_client_context())

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def close(self) -> None:
        self.run(self.context.shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> CoapClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self,
        method: aiocoap.Code,
        path: str,
        payload: bytes = b"",
        block2: tuple[int, int] | None = None,
        blockwise: bool = True,
    ) -> aiocoap.Message:
        message = aiocoap.Message(code=method, uri=self.base + path, payload=payload)
        if block2 is not None:
            number, szx = block2
            message.opt.block2 = BlockOption.BlockwiseTuple(number, False, szx)

        async def send() -> aiocoap.Message:
            return await self.context.request(message, handle_blockwise=blockwise).response

        return self.run(send())

    def observe(self, path: str) -> tuple[aiocoap.Message, queue.Queue[aiocoap.Message], Any]:
        """The first response, a queue of the notifications, and the request (to cancel)."""
        notifications: queue.Queue[aiocoap.Message] = queue.Queue()
        message = aiocoap.Message(code=aiocoap.GET, uri=self.base + path, observe=0)

        async def start() -> tuple[aiocoap.Message, Any]:
            request = self.context.request(message)
            first = await request.response

            async def follow() -> None:
                async for notification in request.observation:
                    notifications.put(notification)

            asyncio.get_running_loop().create_task(follow())
            return first, request

        first, request = self.run(start())
        return first, notifications, request

    def cancel(self, request: Any) -> None:
        self._loop.call_soon_threadsafe(request.observation.cancel)

    def get(self, path: str, **kwargs: Any) -> aiocoap.Message:
        return self.request(aiocoap.GET, path, **kwargs)

    def post(self, path: str, payload: bytes) -> aiocoap.Message:
        return self.request(aiocoap.POST, path, payload)


def libcoap_client() -> str:
    """libcoap's command-line client, as Debian names it."""
    for name in ("coap-client-notls", "coap-client", "coap-client-openssl"):
        if found := shutil.which(name):
            return found
    pytest.fail("libcoap's coap-client is not installed (.ci/run installs libcoap3-bin)")
