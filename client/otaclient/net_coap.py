"""CoAP transport (CPython): aiocoap on an event loop of its own thread."""

import asyncio
import json
import threading
import time

import aiocoap

from otaclient import protocol as p

REQUEST_TIMEOUT = 30


class CoapTransport:
    def __init__(self, host, port, token, kind=p.FIRMWARE):
        self.base = "coap://%s:%d" % (host, port)
        self.token, self.kind = token, kind
        self.agent = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._context = None

    def _run(self, coroutine, timeout=REQUEST_TIMEOUT):
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)
        except Exception as error:  # timeouts and network errors alike mean: try later
            raise OSError("CoAP request failed: %r" % error) from error

    def connect(self, agent):
        self.agent = agent
        if self._context is None:
            self._context = self._run(aiocoap.Context.create_client_context())

    def close(self):
        """Drops the client context; the next connect() makes a fresh one.

        The event loop's thread stays (a daemon): CoAP has no connection to mend, only state.
        """
        context, self._context = self._context, None
        if context is not None:
            try:
                self._run(context.shutdown(), timeout=5)
            except OSError:
                pass

    def _request(self, code, path, payload=b""):
        async def send():
            message = aiocoap.Message(code=code, uri=self.base + path, payload=payload)
            return await self._context.request(message).response

        response = self._run(send())
        if not response.code.is_successful():
            raise OSError("CoAP %s refused: %s %s" % (path, response.code, response.payload[:200]))
        return response.payload

    def send_telemetry(self, values):
        self._request(
            aiocoap.POST, p.http_path(self.token, "telemetry"), json.dumps(values).encode()
        )

    def request_attributes(self, keys):
        data = self._request(
            aiocoap.GET, p.http_path(self.token, "attributes") + "?sharedKeys=" + ",".join(keys)
        )
        self.agent.attributes(json.loads(data).get("shared", {}))

    def request_chunk(self, index, size):
        path = p.coap_download_path(self.kind, self.token)
        if size:
            path += "?size=%d&chunk=%d" % (size, index)
        return self._request(aiocoap.GET, path)

    def poll(self):
        """CoAP devices here poll their attributes; Observe is for long-lived sessions."""
        time.sleep(1)
        self.request_attributes(p.target_keys(self.kind))
