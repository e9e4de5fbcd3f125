"""The pure rules of orchestration: the pace window, progress, tabs, CoAP update merging."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from otaserver.domain.enums import UpdateStatus
from otaserver.domain.orchestration import TAB_OF, PackRate, Tab, known_status, progress
from otaserver.transports.coap import merge_updates


def test_pack_rate_allows_size_per_interval() -> None:
    rate = PackRate(size=5, interval_ms=1000)
    assert (rate.wait_ms(10_000, []), rate.room(10_000, [])) == (0, 5)
    assert (rate.wait_ms(10_000, [(9_500, 4)]), rate.room(10_000, [(9_500, 4)])) == (0, 1)
    # Five in the window: wait until the oldest of them leaves it.
    five = [(9_200, 1), (9_300, 1), (9_400, 1), (9_500, 1), (9_600, 1)]
    assert (rate.wait_ms(10_000, five), rate.room(10_000, five)) == (200, 0)
    # A pack notified at one time leaves the window at one time.
    assert rate.wait_ms(10_000, [(9_600, 2), (9_300, 3)]) == 300
    assert rate.wait_ms(10_000, [(9_600, 1), (9_300, 5)]) == 300
    assert rate.wait_ms(10_000, [(9_600, 5), (9_300, 1)]) == 600
    # Notifications older than the window do not count.
    assert (rate.wait_ms(10_000, [(8_000, 10)]), rate.room(10_000, [(8_000, 10)])) == (0, 5)


@given(
    size=st.integers(1, 10),
    interval=st.integers(1, 5000),
    steps=st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 12)), min_size=1, max_size=60),
)
def test_following_the_waits_never_exceeds_the_pace(
    size: int, interval: int, steps: list[tuple[int, int]]
) -> None:
    rate, now, sent = PackRate(size, interval), 0, list[tuple[int, int]]()
    for gap, wanted in steps:
        now += gap
        now += rate.wait_ms(now, sent)
        room = rate.room(now, sent)
        assert rate.wait_ms(now, sent) == 0 and room >= 1
        sent.append((now, min(room, wanted)))
    for ts, _ in sent:
        assert sum(n for t, n in sent if ts - interval < t <= ts) <= size


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
