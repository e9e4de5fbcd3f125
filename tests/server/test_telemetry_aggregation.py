"""`agg` and `interval` on the time-series history, as ThingsBoard's SQL storage answers them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import TenantContext
from tests.support.api import assert_error
from tests.support.process import ServerProcess

T0 = 1_700_000_000_000
# key "t": 1 and 2 in the first 10 s, 4 and 5.5 in the next, nothing in the third, 7 in the
# fourth; key "s": texts and a boolean.
POINTS = [
    {"ts": T0 + 1_000, "values": {"t": 1, "s": "b"}},
    {"ts": T0 + 9_000, "values": {"t": 2, "s": "a"}},
    {"ts": T0 + 10_000, "values": {"t": 4, "s": True}},
    {"ts": T0 + 15_000, "values": {"t": 5.5}},
    {"ts": T0 + 35_000, "values": {"t": 7}},
    {"ts": T0 + 40_000, "values": {"t": 100}},  # at endTs: outside [startTs, endTs)
]


@pytest.fixture(autouse=True)
def no_traceback(server: ServerProcess) -> Iterator[None]:
    before = len(server.log())
    yield
    assert "Traceback" not in server.log()[before:]


@pytest.fixture
def series(tenant: TenantContext) -> str:
    token = f"agg-{uuid.uuid4().hex}"
    device = tenant.api.create_device(f"agg-{uuid.uuid4().hex[:6]}", token=token)
    response = tenant.api.http.post(f"/api/v1/{token}/telemetry", json=POINTS)
    assert response.status_code == 200, response.text
    return f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/timeseries"


def query(
    tenant: TenantContext, url: str, agg: str, keys: str = "t", strict: bool = True, **more: Any
) -> Any:
    params = {
        "keys": keys,
        "startTs": T0,
        "endTs": T0 + 40_000,
        "interval": 10_000,
        "agg": agg,
        "useStrictDataTypes": "true" if strict else "false",
        **more,
    }
    return tenant.api.get(url, params=params)


def points(answer: Any, key: str = "t") -> list[tuple[int, Any]]:
    return [(p["ts"] - T0, p["value"]) for p in answer.get(key, [])]


def test_each_aggregation_over_intervals(tenant: TenantContext, series: str) -> None:
    # Buckets are stamped with their middle and come oldest first; an empty one is left out.
    assert points(query(tenant, series, "AVG")) == [(5_000, 1.5), (15_000, 4.75), (35_000, 7.0)]
    assert points(query(tenant, series, "MIN")) == [(5_000, 1), (15_000, 4.0), (35_000, 7)]
    assert points(query(tenant, series, "MAX")) == [(5_000, 2), (15_000, 5.5), (35_000, 7)]
    assert points(query(tenant, series, "SUM")) == [(5_000, 3), (15_000, 9.5), (35_000, 7)]
    assert points(query(tenant, series, "COUNT")) == [(5_000, 2), (15_000, 2), (35_000, 1)]
    # limit and orderBy do not apply to aggregates, as in ThingsBoard.
    ordered = query(tenant, series, "COUNT", orderBy="DESC", limit=1)
    assert points(ordered) == [(5_000, 2), (15_000, 2), (35_000, 1)]
    # Without useStrictDataTypes the values are text, as ThingsBoard's are.
    assert points(query(tenant, series, "AVG", strict=False))[0] == (5_000, "1.5")
    # Texts: counted, and MIN/MAX compare them; a boolean is counted only.
    assert points(query(tenant, series, "COUNT", keys="s"), "s") == [(5_000, 2), (15_000, 1)]
    assert points(query(tenant, series, "MIN", keys="s"), "s") == [(5_000, "a")]
    assert query(tenant, series, "AVG", keys="s") == {}
    # The last bucket ends at endTs; a longer interval than the range gives one bucket.
    whole = query(tenant, series, "COUNT", interval=60_000)
    assert points(whole) == [(20_000, 5)]


def test_no_aggregation_reads_the_values(tenant: TenantContext, series: str) -> None:
    raw = [(1_000, 1), (9_000, 2), (10_000, 4), (15_000, 5.5), (35_000, 7), (40_000, 100)]
    assert points(query(tenant, series, "NONE", orderBy="ASC")) == raw
    # As in ThingsBoard, an interval of 0 (the default) means no aggregation either.
    assert points(query(tenant, series, "AVG", orderBy="ASC", interval=0)) == raw
    assert points(query(tenant, series, "", orderBy="ASC", limit=2)) == raw[:2]


def test_bad_aggregation_parameters(tenant: TenantContext, series: str) -> None:
    http = tenant.api.http
    base = {"keys": "t", "startTs": T0, "endTs": T0 + 40_000, "interval": 10_000}
    assert_error(http.get(series, params={**base, "agg": "MEDIAN"}), 400, "'agg' must be one of")
    assert_error(http.get(series, params={**base, "agg": "avg"}), 400, "'agg'")
    assert_error(http.get(series, params={**base, "agg": "AVG", "interval": -1}), 400, "interval")
    assert_error(http.get(series, params={**base, "agg": "AVG", "interval": "1s"}), 400, "interval")
    too_many = {**base, "agg": "AVG", "interval": 10, "endTs": T0 + 1_000_000}
    assert_error(http.get(series, params=too_many), 400, "Number of intervals is too high")
    # Checked also where the latest values are answered, as every other parameter is.
    assert_error(http.get(series, params={"agg": "MEDIAN"}), 400, "'agg'")
