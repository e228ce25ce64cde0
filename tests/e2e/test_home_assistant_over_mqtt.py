"""Home Assistant over MQTT discovery, against a real Mosquitto the test starts, on SQLite and PostgreSQL.

Two sandbox people as two accounts (alice, bob) synced by the real command line with MQTT_URL set:
the broker holds retained discovery for both, states equal to `status --json`, a problem sensor
that follows `status --check --account NAME`; Home Assistant's `online` brings discovery again;
`mqtt remove` and `accounts remove` withdraw; a broker that is down, hangs or refuses us costs
the sync nothing; and no password or token reaches a payload or a log line.
"""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

import etl
from configuration.settings import get_settings
from publish.publisher import Publisher
from sandbox import SandboxServer
from storage import accounts
from storage.engine import make_engine
from sync import resources
from tests.e2e.test_accounts_sync_apart import PEOPLE, give_tokens
from tests.helpers import mosquitto

USER, PASSWORD = "homeassistant", "mqtt-pass-7f3a9c"


def cli(*args: str):
    return CliRunner().invoke(etl.cli, list(args), catch_exceptions=False)


@pytest.fixture
def synced(db_url, monkeypatch, tmp_path):
    """alice and bob synced once with no broker configured: (sandbox, engine, secrets)."""
    mosquitto.mosquitto_or_skip()
    now = datetime.now(timezone.utc) - timedelta(days=1)
    with SandboxServer(people=2, days=20, seed=7, now=now) as sb:
        environment = sb.environment(mint_tokens=False)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", db_url)
        monkeypatch.delenv("MQTT_URL", raising=False)
        engine = make_engine(db_url)
        for name, person in PEOPLE.items():
            give_tokens(engine, sb, name, person)
        result = cli("--quiet")
        assert result.exit_code == 0, result.output
        with engine.begin() as conn:
            accounts.remove(conn, accounts.require(conn, "default"))
        secrets = [v for k, v in environment.items() if k.endswith("SECRET")] + [PASSWORD]
        yield sb, engine, secrets
        engine.dispose()


def _use_broker(monkeypatch, port: int, password: str = PASSWORD, timeout: int = 5) -> None:
    monkeypatch.setenv("MQTT_URL", f"mqtt://{USER}:{password}@127.0.0.1:{port}")
    monkeypatch.setenv("MQTT_TIMEOUT_SECONDS", str(timeout))


def _install(held: dict) -> str:
    availability = next(t for t in held if t.endswith("/availability"))
    return availability.split("/")[1]


def _state(held: dict, install: str, account: str, name: str) -> dict:
    return json.loads(held[f"whoop-etl/{install}/{account}/{name}"])


def _configs(held: dict, account: str) -> dict[str, dict]:
    return {t: json.loads(p) for t, p in held.items() if t.startswith("homeassistant/") and f"_{account}/" in t and p}


def test_a_run_publishes_retained_discovery_and_the_values_status_shows(synced, monkeypatch, tmp_path, caplog):
    _sb, engine, secrets = synced
    with mosquitto.broker(tmp_path, users={USER: PASSWORD}) as port:
        _use_broker(monkeypatch, port)
        caplog.set_level(logging.INFO)
        assert cli("--quiet").exit_code == 0  # the run publishes after it commits
        held = mosquitto.retained(port)
        install = _install(held)
        statuses = {s["account"]: s for s in json.loads(cli("status", "--json").stdout)["accounts"]}
        for account in PEOPLE:
            configs = _configs(held, account)
            weight = configs[f"homeassistant/sensor/whoop_etl_{install}_{account}/weight/config"]
            assert weight["unique_id"] == f"whoop_etl_{install}_{account}_weight"
            assert (weight["device_class"], weight["unit_of_measurement"], weight["state_class"]) == (
                "weight",
                "kg",
                "measurement",
            )
            assert account in weight["device"]["name"] and weight["device"]["model"] == "WHOOP + Withings"
            assert weight["availability_topic"] == f"whoop-etl/{install}/availability"
            status = statuses[account]
            state = functools.partial(_state, held, install, account)
            assert state("weight")["value"] == status["latest_weight"]["kg"]
            assert state("weight")["attributes"]["source"] == "withings"
            assert (state("bp_systolic")["value"], state("bp_diastolic")["value"]) == (
                status["latest_blood_pressure"]["systolic"],
                status["latest_blood_pressure"]["diastolic"],
            )
            assert state("recovery")["value"] == status["latest_recovery"]["score"]
            assert state("sleep_hours")["value"] == pytest.approx(status["last_sleep"]["hours"])
            check = cli("status", "--check", "--account", account)
            problem = _state(held, install, account, "problem")
            assert problem["state"] == ("ON" if check.exit_code else "OFF")
            assert problem["attributes"]["exit_code"] == check.exit_code
            assert (
                configs[f"homeassistant/binary_sensor/whoop_etl_{install}_{account}/problem/config"]["device_class"]
                == "problem"
            )
        assert held[f"whoop-etl/{install}/availability"] == "online"  # a run leaves its entities available
        assert "Home Assistant (MQTT): last published just now" in cli("status", "--account", "alice").output
        # Another process (a second worker, another host) publishes the same ids: they come from the database.
        again = cli("mqtt", "publish")
        assert again.exit_code == 0, again.output
        assert {t for t in mosquitto.retained(port) if t.endswith("/config")} == {
            t for t in held if t.endswith("/config")
        }
    everything = "\n".join(held.values()) + caplog.text
    assert not [s for s in secrets if s and s in everything]


def test_the_problem_sensor_follows_status_check(synced, monkeypatch, tmp_path):
    _sb, _engine, _secrets = synced
    with mosquitto.broker(tmp_path, users={USER: PASSWORD}) as port:
        _use_broker(monkeypatch, port)
        for resource in resources.RESOURCES:  # the sandbox's newest day is two days old: fresh enough here
            monkeypatch.setenv(f"STALE_AFTER_{resource.source.upper()}_{resource.name.upper()}", "30d")
        monkeypatch.setenv("STALE_AFTER_WITHINGS_MEASURES", "1h")  # the scale's newest weigh-in is older
        assert cli("mqtt", "publish", "--account", "alice").exit_code == 0
        held = mosquitto.retained(port)
        problem = _state(held, _install(held), "alice", "problem")
        assert cli("status", "--check", "--account", "alice").exit_code == 1
        assert problem["state"] == "ON" and any(
            "has no record newer than" in p for p in problem["attributes"]["problems"]
        )
        monkeypatch.setenv("STALE_AFTER_WITHINGS_MEASURES", "30d")  # it recovers
        assert cli("mqtt", "publish", "--account", "alice").exit_code == 0
        held = mosquitto.retained(port)
        assert cli("status", "--check", "--account", "alice").exit_code == 0
        assert _state(held, _install(held), "alice", "problem")["state"] == "OFF"


def test_home_assistant_starting_brings_discovery_again_and_a_dead_publisher_goes_unavailable(
    synced, monkeypatch, tmp_path, db_url
):
    _sb, engine, _secrets = synced
    with mosquitto.broker(tmp_path, users={USER: PASSWORD}) as port:
        _use_broker(monkeypatch, port)
        publisher = Publisher(get_settings(read_dotenv=False), engine, long_lived=True)  # as watch and worker hold it
        try:
            assert publisher.publish(("alice",)) == ["alice"]
            watcher = mosquitto.Subscriber(port, topics=("homeassistant/sensor/#",))
            before = len(watcher.messages)
            watcher.publish("homeassistant/status", "online")  # Home Assistant's birth message
            assert publisher.republished.wait(10)
            fresh = watcher.wait_for(lambda messages: len(messages) > before)
            assert any(topic.endswith("/weight/config") and not retain for topic, _, retain in fresh[before:])
            watcher.close()
        finally:
            publisher.close()  # a watch that stops says so
        held = mosquitto.retained(port)
        install = _install(held)
        assert held[f"whoop-etl/{install}/availability"] == "offline"
        # A watch or worker killed without a goodbye: the broker publishes its last will.
        script = (
            "import os, sys; sys.path.insert(0, '.');"
            "from configuration.settings import get_settings; from storage.engine import make_engine;"
            "from publish.publisher import Publisher;"
            "p = Publisher(get_settings(read_dotenv=False), make_engine(os.environ['DATABASE_URL']), long_lived=True);"
            "assert p.publish(('bob',)) == ['bob']; os._exit(0)"
        )
        watcher = mosquitto.Subscriber(port, topics=(f"whoop-etl/{install}/availability",))
        subprocess.run([sys.executable, "-c", script], check=True, cwd=etl.__file__.rsplit("/", 1)[0])
        watcher.wait_for(lambda messages: messages[-1][1] == "offline" and any(p == "online" for _, p, _ in messages))
        watcher.close()


def test_mqtt_remove_and_accounts_remove_withdraw_the_entities(synced, monkeypatch, tmp_path):
    with mosquitto.broker(tmp_path, users={USER: PASSWORD}) as port:
        _use_broker(monkeypatch, port)
        assert cli("mqtt", "publish").exit_code == 0
        held = mosquitto.retained(port)
        assert _configs(held, "alice") and _configs(held, "bob")
        result = cli("mqtt", "remove", "--account", "bob")
        assert result.exit_code == 0, result.output
        held = mosquitto.retained(port)
        assert _configs(held, "alice") and not _configs(held, "bob")
        assert not [t for t in held if "/bob/" in t]  # states too
        result = cli("accounts", "remove", "alice")
        assert result.exit_code == 0, result.output
        held = mosquitto.retained(port)
        assert not _configs(held, "alice") and not [t for t in held if "/alice/" in t]
        assert cli("mqtt", "remove").exit_code == 0
        assert mosquitto.retained(port) == {}


@pytest.mark.parametrize("kind", ["down", "hanging", "refusing"])
def test_a_bad_broker_costs_the_sync_nothing(synced, monkeypatch, tmp_path, caplog, kind):
    _sb, engine, secrets = synced
    with _bad_broker(kind, tmp_path) as port:
        _use_broker(monkeypatch, port, password="wrong-" + PASSWORD if kind == "refusing" else PASSWORD, timeout=1)
        caplog.set_level(logging.INFO)
        result = cli("--json")
        assert result.exit_code == 0, result.output  # two accounts synced, nothing published
        summary = json.loads(result.stdout)
        assert {a["account"]: a["status"] for a in summary["accounts"]} == {"alice": "ok", "bob": "ok"}
        warnings = [r for r in caplog.records if r.name == "etl.mqtt" and r.levelno >= logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]  # one, however many accounts
        assert f"127.0.0.1:{port}" in warnings[0].getMessage()
        status = cli("status", "--account", "bob").output
        assert "Home Assistant (MQTT): last published never; the last attempt (just now) failed" in status
    everything = caplog.text + result.output + status
    assert not [s for s in secrets if s and s in everything] and "wrong-" not in everything


def _bad_broker(kind: str, folder):
    if kind == "down":
        return _nothing_listening()
    if kind == "hanging":
        return mosquitto.hanging_broker()
    return mosquitto.broker(folder, users={USER: PASSWORD})


class _nothing_listening:
    def __enter__(self) -> int:
        return mosquitto.free_port()

    def __exit__(self, *exc) -> None:
        return None


def test_watch_and_worker_publish_after_they_commit_and_go_unavailable_when_they_stop(synced, monkeypatch, tmp_path):
    _sb, engine, _secrets = synced
    with mosquitto.broker(tmp_path, users={USER: PASSWORD}) as port:
        _use_broker(monkeypatch, port)
        result = cli("watch", "--cycles", "1", "--account", "alice")  # one reconciliation, then it stops
        assert result.exit_code == 0, result.output
        held = mosquitto.retained(port)
        assert _configs(held, "alice") and not _configs(held, "bob")
        assert held[f"whoop-etl/{_install(held)}/availability"] == "offline"  # it stopped: unavailable
        if engine.dialect.name == "postgresql":  # workers run on PostgreSQL only
            result = cli("worker", "--until-idle")
            assert result.exit_code == 0, result.output
            held = mosquitto.retained(port)
            assert _configs(held, "alice") and _configs(held, "bob")
            assert held[f"whoop-etl/{_install(held)}/availability"] == "offline"
