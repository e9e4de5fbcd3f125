"""Spec §5: the server's checksum text for each algorithm (what `fw_checksum` carries)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otaconformance.reference import ALGORITHMS, checksum_text, data_with_leading_zeros
from otaconformance.target import KINDS, Kind, Target, rule

DATA = b"123456789" * 50 + bytes(range(256))
TEXT_RULES = {
    "MD5": "checksum.digest-hex",
    "SHA256": "checksum.digest-hex",
    "SHA384": "checksum.digest-hex",
    "SHA512": "checksum.digest-hex",
    "CRC32": "checksum.crc32-le",
    "MURMUR3_32": "checksum.murmur3-le",
    "MURMUR3_128": "checksum.murmur3-le",
}
kinds = pytest.mark.parametrize("kind", KINDS, ids=str)


def check_text(algorithm: str, data: bytes, got: str) -> None:
    expected = checksum_text(algorithm, data)
    assert got == expected, rule(
        TEXT_RULES[algorithm],
        f"{algorithm} of {len(data)} bytes: expected {expected}, got {got}",
    )


@pytest.mark.rules("checksum.digest-hex", "checksum.crc32-le", "checksum.murmur3-le")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@kinds
def test_computed_checksum_text(target: Target, profile: str, kind: Kind, algorithm: str) -> None:
    info = target.package(profile, DATA, kind=kind, algorithm=algorithm)
    assert info["checksumAlgorithm"] == algorithm
    check_text(algorithm, DATA, info["checksum"])


@pytest.mark.rules("checksum.digest-hex", "checksum.crc32-le", "checksum.murmur3-le")
@settings(
    max_examples=14, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(algorithm=st.sampled_from(ALGORITHMS), data=st.binary(min_size=1, max_size=3000))
@kinds
def test_checksum_text_of_any_data(
    target: Target, profile: str, kind: Kind, algorithm: str, data: bytes
) -> None:
    info = target.package(profile, data, kind=kind, algorithm=algorithm)
    check_text(algorithm, data, info["checksum"])


@pytest.mark.rules("checksum.zero-padded")
@pytest.mark.parametrize("algorithm", ["CRC32", "MURMUR3_32"])
@kinds
def test_32_bit_texts_keep_their_zeros(
    target: Target, profile: str, kind: Kind, algorithm: str
) -> None:
    data = data_with_leading_zeros(algorithm)
    got = target.package(profile, data, kind=kind, algorithm=algorithm)["checksum"]
    expected = checksum_text(algorithm, data)
    assert got == expected, rule("checksum.zero-padded", f"expected {expected}, got {got}")


@pytest.mark.rules("checksum.crc32-le")
@kinds
def test_crc32_of_the_spec_example(target: Target, profile: str, kind: Kind) -> None:
    info = target.package(profile, b"123456789", kind=kind, algorithm="CRC32")
    assert info["checksum"] == "2639f4cb", rule("checksum.crc32-le", f"got {info['checksum']}")


@pytest.mark.rules("checksum.supplied-accepted")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@kinds
def test_a_supplied_checksum_in_that_text_is_accepted(
    target: Target, profile: str, kind: Kind, algorithm: str
) -> None:
    info = target.package_info(profile, kind)
    response = target.upload(info, DATA, algorithm, checksum_text(algorithm, DATA), expect=None)
    assert response.status_code == 200, rule(
        "checksum.supplied-accepted",
        f"{algorithm}: got {response.status_code}: {response.text[:200]}",
    )
    assert response.json()["checksum"] == checksum_text(algorithm, DATA), rule(
        "checksum.supplied-accepted", f"{algorithm}: kept {response.json()['checksum']}"
    )


@pytest.mark.rules("checksum.mismatch-refused")
@kinds
def test_a_wrong_checksum_is_refused(target: Target, profile: str, kind: Kind) -> None:
    info = target.package_info(profile, kind)
    response = target.upload(info, DATA, "SHA256", "0" * 64, expect=None)
    assert response.status_code == 400, rule(
        "checksum.mismatch-refused", f"got {response.status_code}"
    )
    stored = target.call("GET", f"/api/otaPackage/info/{info['id']['id']}")
    assert not stored["hasData"], rule("checksum.mismatch-refused", "the refused upload was kept")
