"""The one parser of client input: JSON, decimals, texts and file names."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otaserver.domain.errors import BadRequest, PayloadTooLarge
from otaserver.domain.inputs import (
    InputLimits,
    check_file_name,
    check_text,
    parse_decimal,
    parse_json,
)

LIMITS = InputLimits(max_json_body=1000, max_json_depth=4, max_keys=10, max_name_length=20)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=3), children, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_storable_json_within_the_limits_reads_back_equal(value: object) -> None:
    try:
        raw = json.dumps(value).encode()
    except ValueError:
        return
    limits = InputLimits(max_json_body=10**6, max_json_depth=64)
    try:
        assert parse_json(raw, limits) == value
    except BadRequest as refused:
        # Only what a database cannot store is refused.
        assert "NUL" in refused.message or "Unicode" in refused.message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 5 + b"]" * 5, "nested deeper than 4"),
        (b"[" * 200_000 + b"]" * 200_000, "nested deeper than"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": -Infinity}', "Infinity"),
        (b'{"a": 1e999}', "too large a number"),
        (b'{"t": "\\u0000"}', "NUL"),
        (b'{"\\u0000": 1}', "NUL"),
        (b'{"v": "\\ud800"}', "not valid Unicode"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{oops", "not JSON"),
    ],
)
def test_what_a_database_cannot_store_is_refused(raw: bytes, message: str) -> None:
    limits = InputLimits(max_json_body=10**6, max_json_depth=4)
    with pytest.raises(BadRequest, match=message):
        parse_json(raw, limits)


def test_a_body_past_the_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_json(b" " * 1001, LIMITS)


def test_depth_counts_containers_not_values() -> None:
    assert parse_json(b"[[[[1]]]]", LIMITS) == [[[[1]]]]
    with pytest.raises(BadRequest):
        parse_json(b"[[[[[1]]]]]", LIMITS)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("42", 42), ("007", 7), ("9" * 18, int("9" * 18)), ("9" * 19, None)],
)
def test_decimals(text: str, value: int | None) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize("text", ["", "-1", "+1", " 1", "1_000", "٣", "²", "1e3", "0x10"])
def test_only_ascii_digits_are_decimals(text: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal(text)


def test_thousands_of_digits_are_no_error_of_their_own() -> None:
    assert parse_decimal("1" * 5000) is None
    assert parse_decimal("0" * 5000 + "5") == 5


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("firmware-é.bin", "firmware-é.bin"),
        ("固件.bin", "固件.bin"),
        ("🚀.bin", "🚀.bin"),
        ("dir/sub/fw.bin", "fw.bin"),
        ("C:\\Users\\me\\fw.bin", "fw.bin"),
    ],
)
def test_file_names_keep_their_last_part(given: str, kept: str) -> None:
    assert check_file_name(given, LIMITS) == kept


@pytest.mark.parametrize(
    "name", ["a\x00b", "a\nb", "\x1b[31m", "a\x7fb", "a\x85b", "", "..", "/", "x" * 21]
)
def test_unusable_file_names_are_refused(name: str) -> None:
    with pytest.raises(BadRequest):
        check_file_name(name, LIMITS)


def test_text_checks_name_what_they_refused() -> None:
    with pytest.raises(BadRequest, match="the device name"):
        check_text("a\x00", "the device name")
