"""The fleet's plan, decided by the seed alone: each device's transport, chunk size and fault.

Shares become exact counts (largest remainders), dealt out in a seeded shuffle, so a fleet of
500 with `disconnect=2%` has exactly 10 such devices, the same 10 every run with that seed.
Shards take every n-th device of the one plan, so several machines share one fleet.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from otasim.faults import MODELS, NONE, TRANSPORTS

DEFAULT_TRANSPORTS = "mqtt=40,mqtt5=20,http=20,coap=20"
DEFAULT_CHUNK_SIZES = "4096=1,16384=2,65536=1"


@dataclass(frozen=True)
class DevicePlan:
    index: int
    name: str
    transport: str
    chunk_size: int
    fault: str
    predicted: str
    renotify: bool
    seed: int  # the device's own random choices
    at_chunk: int  # where a mid-download fault acts


def parse_weights(text: str, what: str) -> dict[str, float]:
    """`mqtt=40,http=20`: relative weights, at least one positive."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            weight = float(value) if sep else -1.0
        except ValueError:
            weight = -1.0
        if weight < 0:
            raise ValueError(f"{what}: {item!r} is not NAME=WEIGHT")
        weights[name.strip()] = weight
    if not weights or sum(weights.values()) <= 0:
        raise ValueError(f"{what}: {text!r} names nothing with a positive weight")
    return weights


def parse_transports(text: str) -> dict[str, float]:
    weights = parse_weights(text, "--transports")
    unknown = set(weights) - set(TRANSPORTS)
    if unknown:
        raise ValueError(f"--transports: unknown {', '.join(sorted(unknown))}; known: {TRANSPORTS}")
    return weights


def parse_chunk_sizes(text: str) -> dict[int, float]:
    weights = parse_weights(text, "--chunk-sizes")
    sizes: dict[int, float] = {}
    for name, weight in weights.items():
        if not name.isdigit():
            raise ValueError(f"--chunk-sizes: {name!r} is not a size in bytes (0: whole file)")
        sizes[int(name)] = weight
    return sizes


def exact_counts(shares: Mapping[str, float], total: int) -> dict[str, int]:
    """Counts proportional to `shares` summing to `total` (largest remainders, ties by name)."""
    whole = sum(shares.values())
    raw = {name: total * share / whole for name, share in shares.items()}
    counts = {name: int(value) for name, value in raw.items()}
    left = total - sum(counts.values())
    by_remainder = sorted(raw, key=lambda n: (-(raw[n] - counts[n]), n))
    for name in by_remainder[:left]:
        counts[name] += 1
    return counts


def derived_seed(seed: int, name: str) -> int:
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def plan_fleet(
    devices: int,
    seed: int,
    *,
    faults: Mapping[str, float],
    transports: Mapping[str, float],
    chunk_sizes: Mapping[int, float],
    image_size: int,
    prefix: str = "sim",
    names: Sequence[str] = (),
) -> list[DevicePlan]:
    """The whole fleet's plan (a shard filters it afterwards); `names` are devices an operator
    made (else each is named from the seed and its index)."""
    rng = random.Random(derived_seed(seed, "fleet"))
    dealt = _dealt({**faults, NONE: max(0.0, 1 - sum(faults.values()))}, devices, rng)
    transport_list = _dealt(transports, devices, rng)
    sizes, weights = list(chunk_sizes), list(chunk_sizes.values())
    plans = []
    for index, fault in enumerate(dealt):
        model = MODELS[fault]
        name = names[index] if names else f"{prefix}{seed}-{index:05d}"
        transport = transport_list[index]
        if transport not in model.transports:
            transport = model.transports[index % len(model.transports)]
        chunk_size = rng.choices(sizes, weights)[0]
        if model.mid_download and (chunk_size == 0 or chunk_size * 2 > image_size):
            chunk_size = _small_enough(sizes, image_size)  # a fault needs chunks to act between
        chunks = -(-image_size // chunk_size) if chunk_size else 1
        at_chunk = rng.randrange(1, chunks) if chunks > 1 else 0
        plans.append(
            DevicePlan(
                index,
                name,
                transport,
                chunk_size,
                fault,
                model.predicted,
                model.renotify,
                derived_seed(seed, name),
                at_chunk,
            )
        )
    return plans


def _dealt(weights: Mapping[str, float], total: int, rng: random.Random) -> list[str]:
    counts = exact_counts(weights, total)
    dealt = [name for name, count in sorted(counts.items()) for _ in range(count)]
    rng.shuffle(dealt)
    return dealt


def _small_enough(sizes: list[int], image_size: int) -> int:
    fitting = [s for s in sizes if 0 < s * 2 <= image_size]
    return min(fitting) if fitting else max(1, image_size // 4)


def shard(plans: list[DevicePlan], text: str) -> list[DevicePlan]:
    """`i/n`: the devices whose index is i-1 modulo n."""
    i, n = parse_shard(text)
    return [plan for plan in plans if plan.index % n == i - 1]


def parse_shard(text: str) -> tuple[int, int]:
    i_text, sep, n_text = text.partition("/")
    if sep and i_text.isdigit() and n_text.isdigit() and 1 <= int(i_text) <= int(n_text):
        return int(i_text), int(n_text)
    raise ValueError(f"--shard: {text!r} is not i/n with 1 <= i <= n")
