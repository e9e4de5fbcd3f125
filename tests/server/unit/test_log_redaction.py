"""What the log formatters cut out of every line: access tokens and secret parameters."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from otaserver.logs import JsonFormatter, PlainFormatter, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '127.0.0.1:5 - "GET /api/v1/A1b2-C3/firmware?title=t&version=1 HTTP/1.1" 200',
            '127.0.0.1:5 - "GET /api/v1/***/firmware?title=t&version=1 HTTP/1.1" 200',
        ),
        ('"POST /api/v1/tok%2Fen/telemetry HTTP/1.1"', '"POST /api/v1/***/telemetry HTTP/1.1"'),
        ("coap://[::1]/fw/abc?size=512", "coap://[::1]/fw/***?size=512"),
        ("GET /sw/abc", "GET /sw/***"),
        ("('api', 'v1', 'abc', 'telemetry')", "('api', 'v1', '***', 'telemetry')"),
        ("uri_path=('fw', 'abc')", "uri_path=('fw', '***')"),
        ("POST /api/device?accessToken=abc HTTP/1.1", "POST /api/device?accessToken=*** HTTP/1.1"),
        ("/api/noauth/activate?activateToken=x&y=1", "/api/noauth/activate?activateToken=***&y=1"),
        ("?resetToken=x", "?resetToken=***"),
        ("password=hunter2 next", "password=*** next"),
        ("GET /api/otaPackage/1234/download", "GET /api/otaPackage/1234/download"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("otaserver.x", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_both_formats_redact_the_message_its_arguments_and_extras() -> None:
    record = _record("%s done", "GET /api/v1/secret-token/attributes", transport="mqtt")
    plain = PlainFormatter().format(record)
    assert plain.endswith("INFO otaserver.x: GET /api/v1/***/attributes done")
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /api/v1/***/attributes done"
    assert (line["level"], line["logger"], line["transport"]) == ("INFO", "otaserver.x", "mqtt")
    assert "secret-token" not in plain + json.dumps(line)


def test_a_traceback_is_redacted_too() -> None:
    try:
        raise ValueError("bad /api/v1/secret-token/telemetry")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert "secret-token" not in PlainFormatter().format(record)
    assert "secret-token" not in JsonFormatter().format(record)
    assert "Traceback" in json.loads(JsonFormatter().format(record))["exception"]
