"""HTTP transport (CPython): ThingsBoard's /api/v1/{token} device API with http.client."""

import http.client
import json
from urllib.parse import urlencode, urlsplit

from otaclient import protocol as p

LONG_POLL_MS = 20000


class HttpTransport:
    def __init__(self, base_url, token, kind=p.FIRMWARE, timeout=30):
        url = urlsplit(base_url)
        self.host, self.port = url.hostname, url.port or 80
        self.token, self.kind, self.timeout = token, kind, timeout
        self.agent = None
        self._target = None
        self._connection = None

    def connect(self, agent):
        self.agent = agent
        self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def close(self):
        if self._connection is not None:
            self._connection.close()

    def _request(self, method, path, query=None, body=None, timeout=None):
        """One request on the kept-alive connection; OSError when the server is unreachable."""
        target = p.http_path(self.token, path) + ("?" + urlencode(query) if query else "")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if timeout is not None:
            self._connection.timeout = timeout
        try:
            self._connection.request(method, target, body=body, headers=headers)
            response = self._connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self._connection.close()
            raise OSError("HTTP %s %s failed: %s" % (method, path, error)) from error
        finally:
            self._connection.timeout = self.timeout
        return response.status, data

    def send_telemetry(self, values):
        status, data = self._request("POST", "telemetry", body=json.dumps(values))
        if status != 200:
            raise OSError("telemetry refused: %d %s" % (status, data[:200]))

    def request_attributes(self, keys):
        status, data = self._request("GET", "attributes", {"sharedKeys": ",".join(keys)})
        if status != 200:
            raise OSError("attributes refused: %d" % status)
        shared = json.loads(data).get("shared", {})
        self._target = shared
        self.agent.attributes(shared)

    def request_chunk(self, index, size):
        target = self._target or {}
        query = {
            "title": target.get(p.key(self.kind, "title")),
            "version": target.get(p.key(self.kind, "version")),
            "size": size,
            "chunk": index,
        }
        status, data = self._request("GET", p.download_name(self.kind), query)
        if status != 200:
            raise OSError("chunk %d refused: %d %s" % (index, status, data[:200]))
        return data

    def poll(self):
        """Waits a while for an attribute change (long poll)."""
        status, data = self._request(
            "GET", "attributes/updates", {"timeout": LONG_POLL_MS}, timeout=LONG_POLL_MS / 1000 + 10
        )
        if status == 200 and data:
            update = json.loads(data)
            self._target = dict(
                self._target or {}, **{k: v for k, v in update.items() if k != "deleted"}
            )
            self.agent.attributes(update)
