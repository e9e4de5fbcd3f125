"""The fleet's plan: exact shares, decided by the seed alone, split into shards."""

from __future__ import annotations

from collections import Counter

import pytest
from otasim.faults import DEFAULT_MIX, MODELS, parse_mix
from otasim.fleet import (
    DevicePlan,
    exact_counts,
    parse_chunk_sizes,
    parse_shard,
    parse_transports,
    plan_fleet,
    shard,
)

IMAGE = 256 * 1024


def plan(devices: int = 500, seed: int = 7, faults: str = DEFAULT_MIX) -> list[DevicePlan]:
    return plan_fleet(
        devices,
        seed,
        faults=parse_mix(faults),
        transports=parse_transports("mqtt=40,mqtt5=20,http=20,coap=20"),
        chunk_sizes=parse_chunk_sizes("0=1,4096=1,16384=2,65536=1"),
        image_size=IMAGE,
    )


def test_shares_become_exact_counts_of_every_model() -> None:
    counts = Counter(p.fault for p in plan())
    assert counts == {name: (360 if name == "none" else 10) for name in MODELS}
    assert exact_counts({"a": 1, "b": 1, "c": 1}, 10) == {"a": 4, "b": 3, "c": 3}


def test_the_seed_alone_decides_the_fleet() -> None:
    assert plan(seed=7) == plan(seed=7)
    assert plan(seed=7) != plan(seed=8)
    assert len({p.seed for p in plan()}) == 500  # each device draws from a generator of its own


def test_each_device_gets_a_transport_its_fault_can_use_and_chunks_to_act_between() -> None:
    plans = plan()
    transports = Counter(p.transport for p in plans if p.fault == "none")
    assert set(transports) == {"mqtt", "mqtt5", "http", "coap"}
    for p in plans:
        model = MODELS[p.fault]
        assert p.transport in model.transports
        assert p.predicted == model.predicted
        if model.mid_download:
            assert 0 < p.chunk_size * 2 <= IMAGE and 1 <= p.at_chunk < IMAGE // p.chunk_size + 1
    assert {p.transport for p in plans if p.fault == "coap_loss"} == {"coap"}
    assert 0 in {p.chunk_size for p in plans}  # whole-file downloads are in the mix


def test_shards_split_the_one_fleet_without_overlap() -> None:
    whole = plan(100)
    parts = [shard(whole, f"{i}/3") for i in (1, 2, 3)]
    assert sorted((p for part in parts for p in part), key=lambda p: p.index) == whole
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "a/b", "3"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gremlins=1%", "not MODEL=SHARE"),
        ("none=5%", "not MODEL=SHARE"),
        ("disconnect=lots", "is not a share"),
        ("disconnect=120%", "between 0 and 100%"),
        ("disconnect=60%,reboot=60%", "more than the whole fleet"),
    ],
)
def test_bad_fault_mixes_get_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mix(text)


def test_bad_weights_get_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown zigbee"):
        parse_transports("mqtt=1,zigbee=2")
    with pytest.raises(ValueError, match="not a size in bytes"):
        parse_chunk_sizes("big=1")
    with pytest.raises(ValueError, match="nothing with a positive weight"):
        parse_transports("mqtt=0")
