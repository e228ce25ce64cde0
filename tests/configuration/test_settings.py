"""Every setting is checked before anything runs: a bad value exits 2 naming it and its range."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import etl
from configuration import settings
from sync import resources

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "name, value, allowed",
    [
        ("ETL_LOOKBACK_DAYS", "-5", "from 0 to 3650"),  # used to invert the window silently (exit 0)
        ("ETL_LOOKBACK_DAYS", "seven", "from 0 to 3650"),
        ("ETL_FETCH_CONCURRENCY", "-1", "from 0 to 64"),  # used to crash (exit 1)
        ("WHOOP_REQUESTS_PER_MINUTE", "-1", "from 1 to 100000"),
        ("WITHINGS_REQUESTS_PER_MINUTE", "0", "from 1 to 100000"),
        ("WHOOP_REQUESTS_PER_DAY", "0", "from 1 to 10000000"),
        ("HTTP_TIMEOUT_SECONDS", "0", "from 1 to 600"),
        ("RATE_LIMIT_MAX_WAIT_SECONDS", "-1", "from 0 to 86400"),
        ("ETL_MAX_MINUTES", "0", "from 1 to 10080"),
        ("DB_CONNECT_TIMEOUT_SECONDS", "0", "from 1 to 300"),
        ("DB_STATEMENT_TIMEOUT_SECONDS", "1.5", "from 1 to 86400"),
        ("DASHBOARD_PORT", "70000", "from 0 to 65535"),
        ("WHOOP_API_BASE_URL", "api.prod.whoop.com", "http:// or https:// URL"),
        ("STALE_AFTER_WHOOP_WORKOUTS", "1h", "names no resource; the settings are STALE_AFTER_WHOOP_CYCLES"),
        ("STALE_AFTER_WITHINGS_MEASURES", "a week", "a duration like 36h, 7d or 2w"),
        ("MQTT_TIMEOUT_SECONDS", "0", "from 1 to 60"),
        ("MQTT_URL", "http://broker:1883", "mqtt://user:password@host:1883"),
        ("MQTT_BASE_TOPIC", "whoop/#", "MQTT topic"),
    ],
)
@pytest.mark.parametrize("command", [[], ["status"], ["dashboard"]])
def test_out_of_range_setting_exits_2_before_anything_runs(name, value, allowed, command, tmp_path, monkeypatch):
    database = tmp_path / "whoop.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("WHOOP_CLIENT_ID", "id")
    monkeypatch.setenv("WHOOP_CLIENT_SECRET", "secret")
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(etl.cli, command)
    assert result.exit_code == 2, result.output
    assert name in result.output and allowed in result.output
    assert "Traceback" not in result.output
    assert not database.exists()  # nothing ran: no database was even created


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql://", "names no database"),  # used to fall back to libpq's defaults
        ("postgresql+psycopg2://me:pw-secret@127.0.0.1:5432", "names no database"),
        ("not a url", "is not a database URL"),
        ("postgresql+psycopg2://me:pw-secret@127.0.0.1:notaport/db", "is not a database URL"),
        ("mysql://me:pw-secret@127.0.0.1/db", "unsupported database driver"),
        ("postgresql+asyncpg://me:pw-secret@127.0.0.1/db", "unsupported database driver"),
        ("sqlite://", "names no database"),
    ],
)
def test_database_url_no_retry_can_fix_exits_2(url, expected, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(etl.cli, [])
    assert result.exit_code == 2, result.output
    assert "DATABASE_URL" in result.output and expected in result.output
    assert "pw-secret" not in result.output


def test_sqlite_folder_that_does_not_exist_is_an_error_not_created(tmp_path, monkeypatch):
    missing = tmp_path / "typo" / "nested"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing / 'whoop.db'}")
    result = CliRunner().invoke(etl.cli, ["status"])
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.output and str(missing) in result.output
    assert not (tmp_path / "typo").exists()


def test_make_engine_creates_no_folder_but_the_default(tmp_path, monkeypatch):
    from storage.engine import DatabaseUnavailable, make_engine

    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        make_engine(f"sqlite:///{tmp_path / 'elsewhere' / 'x.db'}")
    assert not (tmp_path / "elsewhere").exists()
    monkeypatch.setattr(settings, "DEFAULT_SQLITE_PATH", tmp_path / "data" / "whoop.db")
    make_engine(f"sqlite:///{tmp_path / 'data' / 'whoop.db'}").dispose()
    assert (tmp_path / "data" / "whoop.db").exists()


def test_defaults_of_the_new_settings():
    current = settings.get_settings(read_dotenv=False)
    assert (current.rate_limit_max_wait, current.max_minutes) == (300.0, 120.0)
    assert (current.db_connect_timeout, current.db_statement_timeout) == (10, 300)
    assert current.whoop.requests_per_minute is None  # unset: the provider's documented default
    assert (current.whoop.requests_per_day, current.withings.requests_per_day) == (9500, None)


def test_values_at_the_ends_of_each_range_are_accepted(monkeypatch):
    for name, (_default, low, high) in settings.RANGES.items():
        for value in (low, high):
            monkeypatch.setenv(name, str(value))
            settings.get_settings(read_dotenv=False)


def _readme_rows() -> dict[str, str]:
    rows = re.findall(r"^\| `([A-Z_]+)` \|(.*)$", (PROJECT / "README.md").read_text(), re.MULTILINE)
    return dict(rows)


def _env_example_names() -> list[str]:
    lines = (PROJECT / ".env.example").read_text().splitlines()
    return [line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z_]+=", line)]


def test_readme_table_and_env_example_list_the_same_settings_in_order_with_ranges():
    readme = _readme_rows()
    assert list(readme) == _env_example_names()
    for name, (default, low, high) in settings.RANGES.items():
        assert f"{low}-{high}" in readme[name], name
        if default is not None:
            assert f"`{default}`" in readme[name], name


def test_a_misspelt_stale_after_setting_lists_every_resource_name(monkeypatch):
    monkeypatch.setenv("STALE_AFTER_WHOOP_WORKOUTS", "1h")
    with pytest.raises(settings.SettingError) as err:
        settings.get_settings(read_dotenv=False)
    for resource in resources.RESOURCES:
        assert f"STALE_AFTER_{resource.source.upper()}_{resource.name.upper()}" in str(err.value)


def test_mqtt_url_gives_the_broker_and_no_message_shows_its_password(monkeypatch, tmp_path):
    from configuration.logs import redact

    monkeypatch.setenv("MQTT_URL", "mqtts://ha:s3cret-mqtt-pw@broker.lan")
    mqtt = settings.get_settings(read_dotenv=False).mqtt
    assert (mqtt.host, mqtt.port, mqtt.tls, mqtt.username, mqtt.discovery_prefix, mqtt.base_topic, mqtt.timeout) == (
        "broker.lan",
        8883,
        True,
        "ha",
        "homeassistant",
        "whoop-etl",
        5.0,
    )
    assert "s3cret-mqtt-pw" not in repr(mqtt) and "s3cret-mqtt-pw" not in redact("connect s3cret-mqtt-pw")
    monkeypatch.setenv("MQTT_URL", "mqtt://ha:s3cret-mqtt-pw@broker.lan:port")
    with pytest.raises(settings.SettingError) as refused:
        settings.get_settings(read_dotenv=False)
    assert "s3cret-mqtt-pw" not in str(refused.value)
    monkeypatch.setenv("MQTT_URL", "mqtt://broker.lan")
    monkeypatch.setenv("MQTT_CA_FILE", str(tmp_path / "ca.pem"))
    with pytest.raises(settings.SettingError, match="mqtts://"):  # a CA file is for TLS: say so
        (tmp_path / "ca.pem").write_text("")
        settings.get_settings(read_dotenv=False)
    monkeypatch.delenv("MQTT_URL")
    assert not settings.get_settings(read_dotenv=False).mqtt.configured
