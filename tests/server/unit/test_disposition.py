"""Download names: ThingsBoard's form where it fits, RFC 6266 `filename*` where it does not."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from otaserver.api.disposition import attachment_headers


def test_plain_names_keep_thingsboards_form() -> None:
    assert attachment_headers("fw-1.0.bin") == {
        "Content-Disposition": "attachment;filename=fw-1.0.bin",
        "x-filename": "fw-1.0.bin",
    }


@pytest.mark.parametrize("name", ["firmware-é.bin", "固件 v2.bin", '🚀;x="y".bin', "a b.bin"])
def test_any_name_survives_a_standard_parser(name: str) -> None:
    headers = attachment_headers(name)
    for value in headers.values():
        value.encode("ascii")  # what any HTTP client can carry
    disposition, *params = headers["Content-Disposition"].split(";")
    assert disposition == "attachment"
    values = dict(param.split("=", 1) for param in params)
    # RFC 6266: a client reads filename* (RFC 8187, UTF-8), older ones the ASCII filename.
    charset, _, encoded = values["filename*"].split("'", 2)
    assert charset == "UTF-8" and unquote(encoded) == name
    assert values["filename"].startswith('"') and values["filename"].endswith('"')
