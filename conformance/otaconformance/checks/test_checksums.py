"""Spec §5: the server's checksum text for each algorithm (what `fw_checksum` carries)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otaconformance.reference import ALGORITHMS, checksum_text, data_with_leading_zeros
from otaconformance.target import Target, rule

DATA = b"123456789" * 50 + bytes(range(256))


def check_text(algorithm: str, data: bytes, got: str) -> None:
    expected = checksum_text(algorithm, data)
    assert got == expected, rule(
        "§5",
        f"{algorithm} text is lower-case hex of Guava's bytes (32-bit values little-endian, "
        f"zero-padded) of {len(data)} bytes: expected {expected}, got {got}",
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_computed_checksum_text(target: Target, profile: str, algorithm: str) -> None:
    info = target.package(profile, DATA, algorithm=algorithm)
    assert info["checksumAlgorithm"] == algorithm
    check_text(algorithm, DATA, info["checksum"])


@settings(
    max_examples=14, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(algorithm=st.sampled_from(ALGORITHMS), data=st.binary(min_size=1, max_size=3000))
def test_checksum_text_of_any_data(
    target: Target, profile: str, algorithm: str, data: bytes
) -> None:
    check_text(algorithm, data, target.package(profile, data, algorithm=algorithm)["checksum"])


@pytest.mark.parametrize("algorithm", ["CRC32", "MURMUR3_32"])
def test_32_bit_texts_keep_their_zeros(target: Target, profile: str, algorithm: str) -> None:
    data = data_with_leading_zeros(algorithm)
    check_text(algorithm, data, target.package(profile, data, algorithm=algorithm)["checksum"])


def test_crc32_of_the_spec_example(target: Target, profile: str) -> None:
    info = target.package(profile, b"123456789", algorithm="CRC32")
    assert info["checksum"] == "2639f4cb", rule(
        "§5", f"CRC32 of b'123456789' is '2639f4cb' (little-endian), got {info['checksum']}"
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_supplied_checksum_in_that_text_is_accepted(
    target: Target, profile: str, algorithm: str
) -> None:
    info = target.package_info(profile)
    response = target.upload(info, DATA, algorithm, checksum_text(algorithm, DATA), expect=None)
    assert response.status_code == 200, rule(
        "§4.5",
        f"a supplied {algorithm} checksum in the §5 text is accepted, got "
        f"{response.status_code}: {response.text[:200]}",
    )
    assert response.json()["checksum"] == checksum_text(algorithm, DATA)


def test_a_wrong_checksum_is_refused(target: Target, profile: str) -> None:
    info = target.package_info(profile)
    response = target.upload(info, DATA, "SHA256", "0" * 64, expect=None)
    assert response.status_code == 400, rule(
        "§4.5",
        f"a supplied checksum that does not match is refused (400), got {response.status_code}",
    )
    stored = target.call("GET", f"/api/otaPackage/info/{info['id']['id']}")
    assert not stored["hasData"], rule("§4.5", "a refused upload stores nothing")
