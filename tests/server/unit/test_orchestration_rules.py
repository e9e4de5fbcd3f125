"""The pure rules of orchestration: the pace window, progress, tabs, CoAP update merging."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from otaserver.domain.enums import UpdateStatus
from otaserver.domain.orchestration import TAB_OF, PackRate, Tab, known_status, progress
from otaserver.transports.coap import merge_updates


def test_pack_rate_allows_size_per_interval() -> None:
    rate = PackRate(size=5, interval_ms=1000)
    assert rate.wait_ms(10_000, []) == 0
    assert rate.wait_ms(10_000, [9_500] * 4) == 0
    # Five in the window: wait until the oldest of them leaves it.
    assert rate.wait_ms(10_000, [9_200, 9_300, 9_400, 9_500, 9_600]) == 200
    # Notifications older than the window do not count.
    assert rate.wait_ms(10_000, [8_000] * 10) == 0


@given(
    size=st.integers(1, 10),
    interval=st.integers(1, 5000),
    gaps=st.lists(st.integers(0, 3000), min_size=1, max_size=60),
)
def test_following_the_waits_never_exceeds_the_pace(
    size: int, interval: int, gaps: list[int]
) -> None:
    rate, now, sent = PackRate(size, interval), 0, []
    for gap in gaps:
        now += gap
        now += rate.wait_ms(now, sent)
        assert rate.wait_ms(now, sent) == 0
        sent.append(now)
    for first, later in zip(sent, sent[size:], strict=False):
        assert later - first >= interval


def test_progress_and_tabs_follow_the_dashboard() -> None:
    assert [progress(s.value) for s in UpdateStatus] == [0, 5, 10, 55, 60, 70, 100, 99]
    assert progress("IDLE") is None and known_status("IDLE") is None
    assert {s for s, t in TAB_OF.items() if t is Tab.UPDATING} == {
        UpdateStatus.INITIATED,
        UpdateStatus.DOWNLOADING,
        UpdateStatus.DOWNLOADED,
        UpdateStatus.VERIFIED,
        UpdateStatus.UPDATING,
    }


def test_merged_updates_keep_every_change() -> None:
    merged = merge_updates({"fw_title": "a", "fw_url": "u"}, {"deleted": ["fw_url"]})
    assert merged == {"fw_title": "a", "deleted": ["fw_url"]}
    assert merge_updates(merged, {"fw_url": "v"}) == {"fw_title": "a", "fw_url": "v"}
