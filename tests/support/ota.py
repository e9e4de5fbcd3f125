"""Reading what the update orchestration wrote: states, attributes, dashboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otatarget.waiting import wait_until

from tests.conftest import TenantContext


def states(tenant: TenantContext, device_id: str, key: str = "fw_state") -> list[tuple[int, Any]]:
    """Every (ts, value) of a telemetry key, oldest first."""
    history = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries",
        params={
            "keys": key,
            "startTs": 0,
            "endTs": 4_000_000_000_000,
            "orderBy": "ASC",
            "limit": 1000,
            "useStrictDataTypes": "true",
        },
    )
    return [(point["ts"], point["value"]) for point in history.get(key, [])]


def shared(tenant: TenantContext, device_id: str) -> dict[str, Any]:
    attributes = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes/SHARED_SCOPE"
    )
    return {a["key"]: a["value"] for a in attributes}


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    wait_until(condition, what or str(condition), timeout, interval=0.1)


def initiated(tenant: TenantContext, device_id: str) -> list[int]:
    return [ts for ts, value in states(tenant, device_id) if value == "INITIATED"]


def report(tenant: TenantContext, token: str, values: dict[str, Any]) -> None:
    response = tenant.api.http.post(f"/api/v1/{token}/telemetry", json=values)
    assert response.status_code == 200, response.text
