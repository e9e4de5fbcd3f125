"""One log format for every logger (ours, uvicorn's, aiocoap's), with the secrets cut out.

Plain text (`time LEVEL logger: message`) or JSON lines (`--log-format json`). Every line passes
through `redact` after it is formatted, traceback included: a device's access token is its only
credential and appears in its URLs (`/api/v1/{token}/...`, CoAP's `/fw/{token}`), and some
query parameters carry one-time tokens or passwords; none of them belongs in a log file.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"

# Path segments that are access tokens: /api/v1/{token}/..., CoAP's /fw/{token} and /sw/{token},
# also as aiocoap writes a path in a message's repr ('api', 'v1', '{token}'); and the values of
# parameters that are secrets (activateToken, resetToken, accessToken, password...).
_SECRETS = (
    (re.compile(r"(/api/v1/)[^/\s?#\"']+"), rf"\1{MASK}"),
    (re.compile(r"(/(?:fw|sw)/)[^/\s?#\"']+"), rf"\1{MASK}"),
    (re.compile(r"('api', 'v1', )'[^']*'"), rf"\1'{MASK}'"),
    (re.compile(r"('(?:fw|sw)', )'[^']*'"), rf"\1'{MASK}'"),
    (re.compile(r"([\w.-]*(?:token|password|secret)[\w.-]*=)[^&\s\"'#]*", re.I), rf"\1{MASK}"),
)

# What every LogRecord has; anything else on a record came as `extra=` and goes into JSON lines.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's message with terminal colours
}


def redact(text: str) -> str:
    """`text` with access tokens and secret query values replaced by ***."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(PLAIN_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the `extra=` fields, and the
    traceback (as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line and not key.startswith("_"):
                line[key] = value if isinstance(value, int | float | bool) else redact(str(value))
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, log_format: str) -> None:
    """Sends every logger, uvicorn's included, through one handler on stderr in `log_format`.

    uvicorn is then started with `log_config=None`, so that it keeps this setup instead of
    installing its own formatters; its `uvicorn.error` and `uvicorn.access` loggers propagate here.
    """
    formatter = "json" if log_format == "json" else "plain"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "plain": {"()": PlainFormatter},
                "json": {"()": JsonFormatter},
            },
            "handlers": {
                "default": {
                    "class": "logging.StreamHandler",
                    "formatter": formatter,
                    "stream": "ext://sys.stderr",
                }
            },
            "root": {"level": level.upper(), "handlers": ["default"]},
            "loggers": {
                # uvicorn's own handlers would write a second, differently formatted line.
                name: {"handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
        }
    )
