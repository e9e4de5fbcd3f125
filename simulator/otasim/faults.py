"""The failures real fleets have, as data: what each does and the state it must end in.

The device runner acts a model out (otasim.device); this module only names the models, says
which transports they apply to and what outcome they predict, and reads `--faults` shares.
"""

from __future__ import annotations

from dataclasses import dataclass

from otaclient import protocol as p

TRANSPORTS = ("mqtt", "mqtt5", "http", "coap")
NONE = "none"


@dataclass(frozen=True)
class FaultModel:
    name: str
    predicted: str  # the final state the device must reach: UPDATED or FAILED
    what: str
    transports: tuple[str, ...] = TRANSPORTS
    renotify: bool = False  # the server may rightly notify the device twice
    keeps_image: bool = False  # the device keeps the image's bytes (it re-reads them)
    mid_download: bool = False  # acts at a chunk chosen per device


MODELS: dict[str, FaultModel] = {
    m.name: m
    for m in (
        FaultModel(NONE, p.UPDATED, "a healthy device"),
        FaultModel(
            "bad_checksum",
            p.FAILED,
            "one byte of one chunk flips on the way: the digest must catch it; never installed",
            mid_download=True,
        ),
        FaultModel(
            "truncated_chunk",
            p.UPDATED,
            "a chunk reply loses its last byte: the device asks for that chunk again",
            mid_download=True,
        ),
        FaultModel(
            "duplicate_chunk",
            p.UPDATED,
            "a chunk reply arrives twice: the copy is dropped",
            mid_download=True,
        ),
        FaultModel(
            "reordered_chunk",
            p.UPDATED,
            "the previous chunk's reply arrives again before the awaited one: dropped",
            mid_download=True,
        ),
        FaultModel(
            "disconnect",
            p.UPDATED,
            "the connection drops at chunk k: the device reconnects and goes on from there, "
            "fetching no byte twice beyond the chunk in flight",
            mid_download=True,
        ),
        FaultModel(
            "reboot",
            p.UPDATED,
            "the device reboots mid-download and resumes from its stored progress",
            keeps_image=True,
            mid_download=True,
        ),
        FaultModel(
            "power_loss",
            p.UPDATED,
            "power fails while flashing: after the reboot the stored image is verified again "
            "and installed",
            keeps_image=True,
        ),
        FaultModel(
            "boot_failure",
            p.FAILED,
            "the new image does not boot after UPDATING: the device rolls back and reports FAILED",
        ),
        FaultModel(
            "stall",
            p.UPDATED,
            "the device goes silent mid-download for longer than the server's stuck timeout: "
            "the server marks it FAILED and notifies it again; it then finishes",
            renotify=True,
            mid_download=True,
        ),
        FaultModel("slow_link", p.UPDATED, "a link of a few KiB per second"),
        FaultModel(
            "coap_loss",
            p.UPDATED,
            "CoAP datagrams are lost both ways: retransmission carries the update through, slowly "
            "enough that the server may time the download out and notify the device again",
            transports=("coap",),
            renotify=True,
        ),
        FaultModel(
            "offline",
            p.UPDATED,
            "offline when the server notifies it, back later: it must still update",
        ),
        FaultModel(
            "state_disorder",
            p.UPDATED,
            "reports a state twice and a stale one out of order",
        ),
        FaultModel(
            "clock_skew",
            p.UPDATED,
            "its reports carry timestamps a day off the server's clock",
        ),
    )
}

# Every model acts in a default run, on a few devices each.
DEFAULT_MIX = ",".join(f"{name}=2%" for name in MODELS if name != NONE)


def parse_mix(text: str) -> dict[str, float]:
    """`bad_checksum=1%,disconnect=0.05`: each model's share of the fleet (0 to 1)."""
    shares: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in MODELS or name == NONE:
            known = ", ".join(m for m in MODELS if m != NONE)
            raise ValueError(f"--faults: {item!r} is not MODEL=SHARE; models: {known}")
        value = value.strip()
        try:
            share = float(value[:-1]) / 100 if value.endswith("%") else float(value)
        except ValueError:
            raise ValueError(f"--faults: {item!r}: {value!r} is not a share") from None
        if not 0 <= share <= 1:
            raise ValueError(f"--faults: {item!r}: a share lies between 0 and 100%")
        shares[name] = share
    if sum(shares.values()) > 1 + 1e-9:
        raise ValueError("--faults: the shares add up to more than the whole fleet")
    return shares
