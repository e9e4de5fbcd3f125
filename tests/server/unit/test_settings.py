"""The settings table: documented in the README, read from flags, environment and defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from otaserver.settings import GIB, SETTINGS, SettingsError, load_settings

README = Path(__file__).parents[3] / "README.md"


def test_readme_documents_every_setting() -> None:
    table = [line for line in README.read_text().splitlines() if line.startswith("| `--")]
    documented = {line.split("|")[2].strip(" `") for line in table}
    assert documented == {spec.env for spec in SETTINGS}
    for spec in SETTINGS:
        assert any(line.startswith(f"| `{spec.flag}` | `{spec.env}`") for line in table), spec


def test_defaults() -> None:
    settings = load_settings({}, {})
    assert settings.http_port == 8080
    assert settings.data_dir == Path("./otakit-data")
    assert settings.max_package_size == 2 * GIB
    assert settings.demo is False


def test_flag_wins_over_environment_which_wins_over_default() -> None:
    environ = {"OTAKIT_HTTP_PORT": "9000", "OTAKIT_DATA_DIR": "/srv/ota"}
    settings = load_settings({"http_port": "9100"}, environ)
    assert settings.http_port == 9100
    assert settings.data_dir == Path("/srv/ota")


def test_demo_flag_from_environment() -> None:
    assert load_settings({}, {"OTAKIT_DEMO": "true"}).demo is True
    assert load_settings({}, {"OTAKIT_DEMO": "0"}).demo is False


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OTAKIT_HTTP_PORT", "eighty", "OTAKIT_HTTP_PORT"),
        ("OTAKIT_HTTP_PORT", "70000", "between 0 and 65535"),
        ("OTAKIT_MAX_PACKAGE_SIZE", "0", "positive"),
        ("OTAKIT_DEMO", "maybe", "true or false"),
    ],
)
def test_invalid_values_are_refused_with_their_source(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({}, {name: value})


def test_database_url_gets_its_async_driver() -> None:
    pg = load_settings({"database_url": "postgresql://u:p@db/ota"}, {})
    assert pg.effective_database_url == "postgresql+asyncpg://u:p@db/ota"
    sqlite = load_settings({"data_dir": "/tmp/x"}, {})
    assert sqlite.effective_database_url == "sqlite+aiosqlite:////tmp/x/otakit.db"


def test_serve_with_a_bad_flag_exits_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otaserver.cli", "serve", "--http-port", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid value 'nope' for --http-port" in result.stderr


def test_thingsboard_queue_variables_are_read() -> None:
    documented = load_settings(
        {}, {"TB_QUEUE_CORE_FW_PACK_SIZE": "5", "TB_QUEUE_CORE_FW_PACK_INTERVAL_MS": "1000"}
    )
    assert (documented.queue_pack_size, documented.queue_pack_interval_ms) == (5, 1000)
    current = load_settings(
        {}, {"TB_QUEUE_CORE_OTA_PACK_SIZE": "7", "TB_QUEUE_CORE_FW_PACK_SIZE": "5"}
    )
    assert current.queue_pack_size == 7  # ThingsBoard's current name wins over the old one
    ours = load_settings({}, {"OTAKIT_QUEUE_PACK_SIZE": "9", "TB_QUEUE_CORE_OTA_PACK_SIZE": "7"})
    assert ours.queue_pack_size == 9
    assert load_settings({}, {}).queue_pack_size == 100
    assert load_settings({}, {}).queue_pack_interval_ms == 60000


def test_stuck_timeouts() -> None:
    settings = load_settings({}, {"OTAKIT_OTA_STUCK_TIMEOUTS": "downloading=600, UPDATING=30"})
    assert settings.ota_stuck_timeouts == {"DOWNLOADING": 600, "UPDATING": 30}
    with pytest.raises(SettingsError, match="QUEUED"):
        load_settings({}, {"OTAKIT_OTA_STUCK_TIMEOUTS": "QUEUED=10"})


def test_invalid_pack_settings_stop_the_server_with_a_clear_message() -> None:
    for name, value in (
        ("TB_QUEUE_CORE_FW_PACK_SIZE", "0"),
        ("TB_QUEUE_CORE_OTA_PACK_INTERVAL_MS", "soon"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "otaserver.cli", "serve"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, name: value},
        )
        assert result.returncode == 2
        assert f"invalid value {value!r} for {name}" in result.stderr
