"""Every setting of the server, declared once as data: name, environment variable, default, help.

A setting comes from its command-line flag, else its `OTAKIT_` environment variable, else its
default. The README's settings table is checked against this table by a test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .domain.errors import OtaError
from .domain.faults import Fault

GIB = 1024**3
MIB = 1024**2
# The width of the database's name columns; a longer limit could not be stored.
MAX_COLUMN_WIDTH = 255


class SettingsError(OtaError):
    """A setting with a value the server cannot run with."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number between 0 and 65535")
    return value


def _secret(text: str) -> str:
    if text and len(text) < 32:
        raise ValueError("must be at least 32 characters (HS256 needs a 256-bit key)")
    return text


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("must be true or false")


def _one_of(*names: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in names:
            raise ValueError(f"must be one of {', '.join(names)}")
        return value

    return parse


_http_parser = _one_of("auto", "h11", "httptools")
_event_loop = _one_of("auto", "asyncio", "uvloop")


# Statuses a device can be stuck in; QUEUED waits for the queue's pace and is never stuck.
STUCK_STATUSES = ("INITIATED", "DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING")


def _stuck_timeouts(text: str) -> dict[str, int]:
    """`DOWNLOADING=600,UPDATING=300`: seconds a device may stay in each status."""
    timeouts: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        status, _, seconds = item.partition("=")
        status = status.strip().upper()
        if status not in STUCK_STATUSES:
            raise ValueError(f"{status!r} is not one of {', '.join(STUCK_STATUSES)}")
        timeouts[status] = _positive_int(seconds.strip())
    return timeouts


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError("must be a positive number of seconds")
    return value


def _name_length(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_COLUMN_WIDTH:
        raise ValueError(f"must be at most {MAX_COLUMN_WIDTH}, the width of the database's columns")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


LOG_FORMATS = ("plain", "json")


def _log_format(text: str) -> str:
    value = text.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"must be one of {', '.join(LOG_FORMATS)}")
    return value


def _fault_names(text: str) -> frozenset[str]:
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = names - {fault.value for fault in Fault}
    if unknown:
        raise ValueError(f"unknown faults {', '.join(sorted(unknown))}")
    return names


LOG_LEVELS = ("debug", "info", "warning", "error")


def _log_level(text: str) -> str:
    level = text.strip().lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


DATABASE_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+asyncpg")


def _database_url(text: str) -> str:
    scheme, separator, _ = text.partition("://")
    if text and (not separator or scheme not in DATABASE_SCHEMES):
        raise ValueError(
            "must be empty (SQLite in the data directory), sqlite:///path or "
            "postgresql://user:password@host/database"
        )
    return text


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    # ThingsBoard's names of the same setting, read when the OTAKIT_ one is not set.
    aliases: tuple[str, ...] = ()

    @property
    def env(self) -> str:
        return "OTAKIT_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "data_dir", "./otakit-data", Path, "Directory of the SQLite database and the package blobs."
    ),
    SettingSpec("host", "0.0.0.0", str, "Address every listener binds: HTTP, MQTT and CoAP."),
    SettingSpec("http_port", 8080, _port, "Port of the REST API and the HTTP device API."),
    SettingSpec("mqtt_port", 1883, _port, "Port of the MQTT device API; 0 turns it off."),
    SettingSpec("coap_port", 5683, _port, "UDP port of the CoAP device API; 0 turns it off."),
    SettingSpec(
        "mqtt_max_chunk_size",
        1024 * 1024,
        _positive_int,
        "Largest chunk a device may ask for over MQTT; larger gets PAYLOAD_TOO_LARGE.",
    ),
    SettingSpec(
        "mqtt_max_packet_size",
        1024 * 1024,
        _positive_int,
        "Largest MQTT packet a device may send; a larger one closes its connection.",
    ),
    SettingSpec(
        "database_url",
        "",
        _database_url,
        "SQLAlchemy URL of the database; empty means SQLite in the data directory. "
        "A postgresql:// URL runs the server on PostgreSQL.",
    ),
    SettingSpec(
        "max_package_size",
        2 * GIB,
        _positive_int,
        "Largest package data accepted, in bytes; larger uploads get 413.",
    ),
    SettingSpec(
        "max_json_body",
        MIB,
        _positive_int,
        "Largest JSON body accepted from users and devices, in bytes; a larger one gets 413.",
    ),
    SettingSpec(
        "max_json_depth",
        32,
        _positive_int,
        "Deepest nesting of JSON objects and arrays accepted; deeper gets 400.",
    ),
    SettingSpec(
        "max_telemetry_keys",
        1000,
        _positive_int,
        "Most telemetry values or attributes in one message, and most keys asked for in one "
        "request; more gets 400.",
    ),
    SettingSpec(
        "max_name_length",
        MAX_COLUMN_WIDTH,
        _name_length,
        "Longest name, title, version, tag, label or e-mail accepted, in characters; longer gets "
        f"400. At most {MAX_COLUMN_WIDTH}.",
    ),
    SettingSpec(
        "http_header_timeout",
        10.0,
        _positive_seconds,
        "Seconds an HTTP client has, once connected or between requests, to send a request's "
        "headers; a slower one gets 408 and is disconnected.",
    ),
    SettingSpec(
        "http_body_timeout",
        30.0,
        _positive_seconds,
        "Seconds a request body may pause; after a longer pause the connection is closed.",
    ),
    SettingSpec(
        "http_max_connections",
        4000,
        _positive_int,
        "Most HTTP connections held at once; one more gets 503 and is closed.",
    ),
    SettingSpec(
        "http_parser",
        "auto",
        _http_parser,
        "HTTP/1.1 parser: h11 (pure Python), httptools (several times faster; installed with "
        "otakit), or auto: httptools when installed, else h11.",
    ),
    SettingSpec(
        "event_loop",
        "asyncio",
        _event_loop,
        "asyncio: Python's own event loop; uvloop: libuv's, faster, if installed (pip install "
        "uvloop; not yet the default: see docs/decisions.md); auto: uvloop when installed.",
    ),
    SettingSpec(
        "mqtt_max_connections",
        12000,
        _positive_int,
        "Most MQTT connections held at once; one more is closed at once.",
    ),
    SettingSpec(
        "mqtt_max_subscriptions",
        64,
        _positive_int,
        "Most topic filters one MQTT connection may hold; more are refused in the SUBACK.",
    ),
    SettingSpec(
        "mqtt_max_downloads",
        16,
        _positive_int,
        "Request ids one MQTT connection keeps bound to their package; past this, the one "
        "used least recently is forgotten.",
    ),
    SettingSpec(
        "login_max_failures",
        5,
        _positive_int,
        "Failed logins in a row after which an account is locked for --login-lockout-seconds, "
        "except from addresses it logged in from before.",
    ),
    SettingSpec(
        "login_max_failures_per_address",
        20,
        _positive_int,
        "Failed logins from one client address, to any accounts, after which that address "
        "may not log in for --login-lockout-seconds.",
    ),
    SettingSpec(
        "login_lockout_seconds",
        300,
        _positive_int,
        "How long a lockout lasts; failures older than this are forgotten.",
    ),
    SettingSpec(
        "password_hash_threads",
        1,
        _positive_int,
        "Password hashes computed at once; each keeps a core busy for about 0.1 s.",
    ),
    SettingSpec(
        "login_max_waiting",
        32,
        _positive_int,
        "Logins that may wait for a password hash; one more gets 429.",
    ),
    SettingSpec(
        "log_repeat_seconds",
        10.0,
        _positive_seconds,
        "A warning about bad input or refused connections is logged at most once per this "
        "many seconds, with the number of repeats.",
    ),
    SettingSpec(
        "admin_email",
        "sysadmin@otakit.local",
        str,
        "Email of the system administrator created at the first start.",
    ),
    SettingSpec(
        "admin_password",
        "",
        str,
        "Its password; empty means a random one, written to admin-password.txt in the data "
        "directory (readable only by its owner).",
    ),
    SettingSpec(
        "jwt_secret",
        "",
        _secret,
        "Key that signs the API tokens; empty means one generated and kept in the "
        "database, shared by every server process.",
    ),
    SettingSpec(
        "jwt_token_expiration", 9000, _positive_int, "Lifetime of an access token, in seconds."
    ),
    SettingSpec(
        "jwt_refresh_token_expiration",
        604800,
        _positive_int,
        "Lifetime of a refresh token, in seconds.",
    ),
    SettingSpec(
        "demo", False, _flag, "Seed ThingsBoard's demo accounts, a device profile and devices."
    ),
    SettingSpec(
        "queue_pack_size",
        100,
        _positive_int,
        "Devices notified at most per pack interval (ThingsBoard's pack size).",
        ("TB_QUEUE_CORE_OTA_PACK_SIZE", "TB_QUEUE_CORE_FW_PACK_SIZE"),
    ),
    SettingSpec(
        "queue_pack_interval_ms",
        60000,
        _positive_int,
        "The pack interval, in milliseconds.",
        ("TB_QUEUE_CORE_OTA_PACK_INTERVAL_MS", "TB_QUEUE_CORE_FW_PACK_INTERVAL_MS"),
    ),
    SettingSpec(
        "queue_batch_size",
        1000,
        _positive_int,
        "Devices the queue worker notifies in one database transaction, at most: a large pack "
        "goes out in several.",
    ),
    SettingSpec(
        "ota_stuck_timeouts",
        "",
        _stuck_timeouts,
        "Seconds a device may stay in a status before it is marked FAILED and queued "
        "again, e.g. DOWNLOADING=1800,UPDATING=600; empty: never.",
    ),
    SettingSpec(
        "ota_max_retries",
        3,
        _non_negative_int,
        "How often a stuck device is queued again before it stays FAILED.",
    ),
    SettingSpec(
        "inject_faults",
        "",
        _fault_names,
        "For testing conformance suites only: comma-separated faults to switch on "
        "(see otaserver/domain/faults.py). Never set in production.",
    ),
    SettingSpec(
        "console_push_interval_ms",
        250,
        _positive_int,
        "The web console's live dashboard: update-state changes are pushed to a browser at "
        "most once per this many milliseconds, those in between coalesced into one event.",
    ),
    SettingSpec("log_level", "info", _log_level, "Log level: debug, info, warning or error."),
    SettingSpec(
        "log_format",
        "plain",
        _log_format,
        "plain: one text line per record; json: one JSON object per line. Applies to every "
        "log line, uvicorn's access log included.",
    ),
    SettingSpec(
        "metrics",
        True,
        _flag,
        "Serve Prometheus metrics at /metrics on the HTTP port, without authentication "
        "(counts only, no tenant data); off turns the route off.",
    ),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str
    http_port: int
    mqtt_port: int
    coap_port: int
    mqtt_max_chunk_size: int
    mqtt_max_packet_size: int
    database_url: str
    max_package_size: int
    max_json_body: int
    max_json_depth: int
    max_telemetry_keys: int
    max_name_length: int
    http_header_timeout: float
    http_body_timeout: float
    http_max_connections: int
    http_parser: str
    event_loop: str
    mqtt_max_connections: int
    mqtt_max_subscriptions: int
    mqtt_max_downloads: int
    login_max_failures: int
    login_max_failures_per_address: int
    login_lockout_seconds: int
    password_hash_threads: int
    login_max_waiting: int
    log_repeat_seconds: float
    admin_email: str
    admin_password: str
    jwt_secret: str
    jwt_token_expiration: int
    jwt_refresh_token_expiration: int
    demo: bool
    queue_pack_size: int
    queue_pack_interval_ms: int
    queue_batch_size: int
    ota_stuck_timeouts: dict[str, int]
    ota_max_retries: int
    inject_faults: frozenset[str]
    console_push_interval_ms: int
    log_level: str
    log_format: str
    metrics: bool

    @property
    def effective_database_url(self) -> str:
        """The async SQLAlchemy URL, with the driver filled in for plain URLs."""
        url = self.database_url or f"sqlite:///{self.data_dir.resolve() / 'otakit.db'}"
        for plain, driver in (
            ("sqlite://", "sqlite+aiosqlite://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


def load_settings(
    given: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from explicit values (flags), else the environment, else the defaults."""
    given = given or {}
    environ = environ if environ is not None else {}
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        found_env = next((e for e in (spec.env, *spec.aliases) if e in environ), None)
        if given.get(spec.name) is not None:
            raw, source = given[spec.name], spec.flag
        elif found_env is not None:
            raw, source = environ[found_env], found_env
        else:
            default = spec.default
            values[spec.name] = spec.parse(default) if isinstance(default, str) else default
            continue
        try:
            values[spec.name] = raw if not isinstance(raw, str) else spec.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"invalid value {raw!r} for {source}: {exc}") from None
    assert {f.name for f in fields(Settings)} == set(values)
    return Settings(**values)
