"""A server of one's own, whose log only one test module writes to, and that log read back."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TenantContext, create_tenant, database_for
from tests.support.api import Api
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess, start_server

# One warning per kind for the whole run: the throttle's limit is then exactly one line per kind.
ONCE_PER_RUN = {"OTAKIT_LOG_REPEAT_SECONDS": "3600", "OTAKIT_LOG_LEVEL": "info"}
_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ([A-Z]+) (\S+): (.*)$")


@contextmanager
def dedicated_server(
    backend: str, data_dir: Path, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    with ExitStack() as stack:
        server = start_server(data_dir, database_for(backend, stack), env=env or ONCE_PER_RUN)
        try:
            yield server
        finally:
            server.stop()


def tenant_on(server: ServerProcess) -> TenantContext:
    return create_tenant(Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD))


@dataclass(frozen=True)
class LogLine:
    level: str
    logger: str
    message: str

    @property
    def kind(self) -> str:
        """What our throttled warnings start with: "coap-malformed", "aiocoap[udp6:568]"..."""
        return self.message.split(": ", 1)[0]


def log_lines(text: str) -> list[LogLine]:
    return [LogLine(*m.groups()) for m in map(_LINE.match, text.splitlines()) if m]


def coap_warnings(text: str) -> Counter[str]:
    """How many warning-or-worse lines each kind wrote, from the CoAP transport and asyncio."""
    return Counter(
        line.kind
        for line in log_lines(text)
        if line.level in ("WARNING", "ERROR", "CRITICAL")
        and (line.logger.startswith("otaserver.coap") or line.logger == "asyncio")
    )
