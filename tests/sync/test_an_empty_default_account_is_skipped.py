"""An empty `default` account (as the migration leaves it) beside a connected `alice`: `watch`
watches and budgets for alice alone, and a worker syncs alice alone, pinging its monitor as a
run does, while `status --check` agrees that all is well."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from click.testing import CliRunner

import etl
from sync import resources
from sync.healthcheck import Pinger
from sync.run import RunOptions
from sync.watch import Schedule, run_watch
from sync.worker import Worker
from tests.conftest import serving
from tests.helpers.accounts import alice_beside_empty_default
from tests.sync.test_healthcheck_pings import Monitor, paths


@pytest.fixture
def alice(sandbox, db_url, monkeypatch):
    settings, engine = alice_beside_empty_default(sandbox, db_url, monkeypatch)
    yield settings, engine
    engine.dispose()


def test_watch_watches_and_budgets_for_alice_alone(alice, caplog):
    settings, engine = alice
    lines: list[str] = []
    with caplog.at_level(logging.INFO, logger="etl.watch"):
        code = run_watch(settings, engine, resources.SOURCES, Schedule(), echo=lines.append, max_cycles=1)
    assert code == 0, caplog.text
    assert lines and not any("accounts" in line for line in lines)  # budgeted for one account
    assert "(account alice)" in caplog.text and "default" not in caplog.text


def _worker(settings, engine, **options) -> Worker:
    return Worker(
        settings, engine, RunOptions(), interval=timedelta(hours=1), until_idle=True, echo=lambda line: None, **options
    )


def _postgresql_only(engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("workers need PostgreSQL")


def test_a_worker_syncs_alice_alone_and_the_check_agrees(alice, caplog):
    settings, engine = alice
    _postgresql_only(engine)
    worker = _worker(settings, engine)
    with caplog.at_level(logging.ERROR):
        assert worker.run() == 0
    assert (worker.stats.synced, worker.stats.failed) == (["alice"], [])
    assert "not connected" not in caplog.text
    result = CliRunner().invoke(etl.cli, ["status", "--check"])
    assert result.exit_code == 0, result.stderr


def test_a_worker_pings_its_monitor_for_each_account_it_syncs(alice):
    settings, engine = alice
    _postgresql_only(engine)
    with serving(Monitor()) as monitor:
        assert _worker(settings, engine, pinger=Pinger(monitor.url)).run() == 0
    assert paths(monitor) == ["/UUID/start", "/UUID"]
    assert "account alice: 14 resources: 14 ok" in monitor.pings[-1][3]


def test_the_worker_command_pings_the_ping_url(alice, monkeypatch):
    settings, engine = alice
    _postgresql_only(engine)
    with serving(Monitor()) as monitor:
        monkeypatch.setattr("signal.signal", lambda *args: None)  # the test's own handlers stay
        result = CliRunner().invoke(etl.cli, ["--ping-url", monitor.url, "worker", "--until-idle"])
    assert result.exit_code == 0, result.output
    assert paths(monitor) == ["/UUID/start", "/UUID"]
