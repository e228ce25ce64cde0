"""run_app.py driven through piped input, as a person at the keyboard would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def _menu(stdin: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run_app.py"], input=stdin, text=True, capture_output=True, cwd=PROJECT, env=env, timeout=120
    )


@pytest.fixture
def menu_env(etl_env):
    env = {k: v for k, v in os.environ.items()}
    env["WHOOP_PLATFORM_NO_DOTENV"] = "1"
    return env


def test_option_1_runs_the_etl_then_invalid_choice_then_end_of_input(menu_env, db_url):
    result = _menu("1\n7\n", menu_env)
    assert result.returncode == 0, result.stderr
    assert "All synced." in result.stdout
    assert "'7' is not an option" in result.stdout
    assert "Bye." in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    from tests.helpers.etl import table_counts

    assert table_counts(db_url)["cycles"] > 0


def test_option_1_publishes_to_mqtt_when_it_is_configured(menu_env, tmp_path):
    from tests.helpers import mosquitto

    with mosquitto.broker(tmp_path) as port:
        result = _menu("1\n", {**menu_env, "MQTT_URL": f"mqtt://127.0.0.1:{port}"})
        assert result.returncode == 0, result.stderr
        assert "All synced." in result.stdout
        held = mosquitto.retained(port)
    assert any(topic.startswith("homeassistant/sensor/") for topic in held)
    assert [payload for topic, payload in held.items() if topic.endswith("/availability")] == ["online"]


def test_status_and_quit(menu_env):
    result = _menu("3\nq\n", menu_env)
    assert result.returncode == 0
    assert "Latest weight:" in result.stdout


def test_option_6_exports_the_daily_table(menu_env, tmp_path):
    result = _menu(f"1\n6\n{tmp_path}\nq\n", menu_env)
    assert result.returncode == 0, result.stderr
    header = (tmp_path / "daily.csv").read_text().splitlines()[0]
    assert (
        header.startswith("day,whoop_user_id,withings_user_id,recovery,")
        and "Traceback" not in result.stdout + result.stderr
    )


def test_connect_with_unknown_provider(menu_env):
    result = _menu("4\nfitbit\n", menu_env)
    assert result.returncode == 0
    assert "unknown provider 'fitbit'" in result.stdout
