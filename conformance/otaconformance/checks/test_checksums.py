"""Spec §5: the server's checksum text for each algorithm (what `fw_checksum` carries), on small
and on streamed uploads; and the checksum parts of §4.5 and §7."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otaconformance.packaging import WRONG_FILE_TEXT, message_of
from otaconformance.reference import ALGORITHMS, checksum_text, data_with_leading_zeros
from otaconformance.target import KINDS, Kind, Target, rule

DATA = b"123456789" * 50 + bytes(range(256))
# More than any one read buffer of a server (64 KiB, 1 MiB ...), and not a multiple of one:
# a checksum of a single buffer, or of the last one, differs from the whole stream's.
BIG = random.Random(20261203).randbytes(3 * 1024 * 1024 + 17)
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


@pytest.mark.rules(
    "checksum.digest-hex",
    "checksum.crc32-le",
    "checksum.murmur3-le",
    "checksum.computed-when-absent",
)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@kinds
def test_computed_checksum_text(target: Target, profile: str, kind: Kind, algorithm: str) -> None:
    info = target.package(profile, DATA, kind=kind, algorithm=algorithm)
    assert info["checksumAlgorithm"] == algorithm, rule(
        "checksum.computed-when-absent", f"asked for {algorithm}, got {info['checksumAlgorithm']}"
    )
    assert info["checksum"], rule("checksum.computed-when-absent", "no checksum computed")
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


@pytest.mark.otakit_extension
@pytest.mark.rules("checksum.supplied-trimmed")
@kinds
def test_a_supplied_checksum_is_read_trimmed(target: Target, profile: str, kind: Kind) -> None:
    text = checksum_text("SHA256", DATA)
    spelled = {
        "upper case": (text.upper(), 200),
        "spaces around it": (f"  {text} ", 200),
        "padded to 1020": (text.ljust(1020), 200),
        "padded to 1021": (text.ljust(1021), 400),  # past the limit, however it is padded
    }
    got = {}
    for what, (supplied, _) in spelled.items():
        info = target.package_info(profile, kind)
        response = target.upload(info, DATA, "SHA256", supplied, expect=None)
        got[what] = response.status_code
        if response.status_code == 200:
            assert response.json()["checksum"] == text, rule(
                "checksum.supplied-trimmed", f"{what}: kept {response.json()['checksum']!r}"
            )
    want = {what: status for what, (_, status) in spelled.items()}
    assert got == want, rule("checksum.supplied-trimmed", f"SHA256, {kind}: {got}")


@pytest.mark.rules("checksum.mismatch-refused", "package.error-texts")
@kinds
def test_a_wrong_checksum_is_refused(target: Target, profile: str, kind: Kind) -> None:
    info = target.package_info(profile, kind)
    response = target.upload(info, DATA, "SHA256", "0" * 64, expect=None)
    assert response.status_code == 400, rule(
        "checksum.mismatch-refused", f"got {response.status_code}"
    )
    assert message_of(response).startswith(WRONG_FILE_TEXT), rule(
        "package.error-texts", f"a wrong checksum: {message_of(response)!r}"
    )
    stored = target.call("GET", f"/api/otaPackage/info/{info['id']['id']}")
    assert not stored["hasData"], rule("checksum.mismatch-refused", "the refused upload was kept")


@pytest.mark.rules("checksum.whole-stream")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@kinds
def test_checksum_of_a_streamed_upload(
    target: Target, profile: str, kind: Kind, algorithm: str
) -> None:
    info = target.package(profile, BIG, kind=kind, algorithm=algorithm)
    expected = checksum_text(algorithm, BIG)
    assert info["checksum"] == expected, rule(
        "checksum.whole-stream",
        f"{algorithm} of {len(BIG)} bytes: expected {expected}, got {info['checksum']}",
    )
    assert info["dataSize"] == len(BIG), rule(
        "checksum.whole-stream", f"stored {info['dataSize']} of {len(BIG)} bytes"
    )


@pytest.mark.rules("checksum.supplied-whole-stream", "checksum.supplied-accepted")
@pytest.mark.parametrize("algorithm", ["SHA256", "CRC32"])
@kinds
def test_a_supplied_checksum_is_checked_over_the_whole_upload(
    target: Target, profile: str, kind: Kind, algorithm: str
) -> None:
    info = target.package_info(profile, kind)
    # What a server that checked only its first buffers (the first 3 MiB) would have seen.
    of_the_head = checksum_text(algorithm, BIG[: 3 * 1024 * 1024])
    response = target.upload(info, BIG, algorithm, of_the_head, expect=None)
    assert response.status_code == 400, rule(
        "checksum.supplied-whole-stream",
        f"{algorithm} of the first 3 MiB only: got {response.status_code}",
    )
    stored = target.call("GET", f"/api/otaPackage/info/{info['id']['id']}")
    assert not stored["hasData"] and stored["checksum"] is None, rule(
        "checksum.supplied-whole-stream", "the refused upload was kept"
    )
    whole = checksum_text(algorithm, BIG)
    response = target.upload(info, BIG, algorithm, whole, expect=None)
    assert response.status_code == 200 and response.json()["checksum"] == whole, rule(
        "checksum.supplied-accepted",
        f"{algorithm} of the whole {len(BIG)} bytes: {response.status_code} {response.text[:200]}",
    )


@pytest.mark.rules("package.checksum-max-length")
@kinds
def test_a_checksum_longer_than_1020_characters_is_refused(
    target: Target, profile: str, kind: Kind
) -> None:
    info = target.package_info(profile, kind)
    for too_long in ("0" * 1021, checksum_text("SHA256", DATA) + "0" * 957):
        response = target.upload(info, DATA, "SHA256", too_long, expect=None)
        assert response.status_code == 400, rule(
            "package.checksum-max-length",
            f"a checksum of {len(too_long)} characters: got {response.status_code}",
        )
    stored = target.call("GET", f"/api/otaPackage/info/{info['id']['id']}")
    assert not stored["hasData"], rule("package.checksum-max-length", "the upload was kept")


@pytest.mark.rules("rest.algorithm-case-insensitive")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@kinds
def test_the_algorithm_name_is_case_insensitive(
    target: Target, profile: str, kind: Kind, algorithm: str
) -> None:
    # All lower case, and the first letter alone upper case: "sha256", "Sha256".
    for spelled in (algorithm.lower(), algorithm.capitalize()):
        info = target.package_info(profile, kind)
        response = target.upload(info, DATA, spelled, expect=None)
        assert response.status_code == 200, rule(
            "rest.algorithm-case-insensitive", f"{spelled}: got {response.status_code}"
        )
        got = response.json()
        assert got["checksumAlgorithm"] == algorithm, rule(
            "rest.algorithm-case-insensitive", f"{spelled} kept as {got['checksumAlgorithm']}"
        )
        check_text(algorithm, DATA, got["checksum"])


@pytest.mark.rules("rest.algorithm-unknown-refused")
@kinds
def test_an_unknown_algorithm_is_refused(target: Target, profile: str, kind: Kind) -> None:
    info = target.package_info(profile, kind)
    for name in ("SHA1", "SHA-256", "CRC"):
        response = target.upload(info, DATA, name, expect=None)
        assert response.status_code == 400, rule(
            "rest.algorithm-unknown-refused", f"{name}: got {response.status_code}"
        )
    stored = target.call("GET", f"/api/otaPackage/info/{info['id']['id']}")
    assert stored["hasData"] is False, rule(
        "rest.algorithm-unknown-refused", f"the package took the data: {stored}"
    )
