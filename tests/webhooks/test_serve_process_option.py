"""`etl.py serve` as a process: `--process` (the default) turns an event into a row on its own;
`--no-process` stores the event and fetches nothing, leaving it to `worker` or `watch`."""

from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import select

import models
from configuration.settings import get_settings
from storage.engine import make_engine
from sync.events import Processor
from tests.helpers.etl_process import EtlProcess
from tests.webhooks.conftest import PATH_SECRET, link_sandbox_users, stored
from tests.webhooks.test_receiver_with_sandbox_deliveries import admin, settle

LISTENING = re.compile(r"receiving webhooks on (http://127\.0\.0\.1:\d+)")


class Serve(EtlProcess):
    """`python etl.py serve --port 0 ...` in a subprocess, its output lines collected as they come."""

    def __init__(self, env: dict, *args: str):
        super().__init__(env, "serve", "--port", "0", *args)

    def wait_for(self, pattern: re.Pattern, timeout: float = 60) -> re.Match:
        """The first match of `pattern` in a line; fails when serve ends first (`timeout`: a hang guard)."""
        return self.wait_until(
            lambda: next((m for line in self.lines if (m := pattern.search(line))), None),
            repr(pattern.pattern),
            timeout,
        )


@pytest.fixture
def serve_env(etl_env, db_url, monkeypatch):
    """The sandbox's apps and tokens, the test database with person 0 linked, and the path secret."""
    monkeypatch.setenv("WITHINGS_WEBHOOK_SECRET", PATH_SECRET)
    engine = make_engine(db_url)
    link_sandbox_users(engine)
    engine.dispose()
    etl_env.push.configure(time_scale=0.0001)
    return {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1"}


def _point_sandbox_at(sandbox, url: str) -> None:
    sandbox.push.configure(whoop_url=f"{url}/webhooks/whoop", withings_url=f"{url}/webhooks/withings/{PATH_SECRET}")


def _weights(engine, grpid: int) -> list:
    with engine.connect() as conn:
        return list(conn.execute(select(models.withings_weight).where(models.withings_weight.c.grpid == grpid)))


def _data_requests(sandbox) -> list[str]:
    """The API requests made (token and profile reads aside)."""
    skip = ("oauth", "/user/profile", "/v2/oauth2")
    return [r["path"] for r in sandbox.app.requests if not any(s in r["path"] for s in skip)]


def test_serve_processes_a_pushed_weigh_in_into_a_row(serve_env, sandbox, db_url):
    serve = Serve(serve_env)
    engine = make_engine(db_url)
    try:
        _point_sandbox_at(sandbox, serve.wait_for(LISTENING).group(1))
        sandbox.app.clear_requests()
        grpid = admin(sandbox, "weigh-in", kg=77.7)["grpid"]
        assert {entry["status"] for entry in settle(sandbox)} == {200}
        serve.wait_for(re.compile(r"events: withings event \d+ .*: stored"))
        (row,) = _weights(engine, grpid)
        assert float(row.weight_kg) == pytest.approx(77.7)
        assert [r.processed_at is not None for r in stored(engine)] == [True]
        assert any("/measure" in path for path in _data_requests(sandbox))
    finally:
        code = serve.terminate()
        engine.dispose()
    assert code == 0, "".join(serve.lines)


def test_serve_no_process_stores_the_event_and_fetches_nothing(serve_env, sandbox, db_url, monkeypatch):
    serve = Serve(serve_env, "--no-process")
    engine = make_engine(db_url)
    try:
        _point_sandbox_at(sandbox, serve.wait_for(LISTENING).group(1))
        sandbox.app.clear_requests()
        grpid = admin(sandbox, "weigh-in", kg=66.6)["grpid"]
        assert {entry["status"] for entry in settle(sandbox)} == {200}  # committed before each answer
    finally:
        code = serve.terminate()
    assert code == 0, "".join(serve.lines)
    try:
        (event,) = stored(engine)
        assert (event.provider, event.appli, event.processed_at, event.attempts) == ("withings", 1, None, 0)
        assert _data_requests(sandbox) == [] and _weights(engine, grpid) == []
        assert not [line for line in serve.lines if line.startswith("events:") or "events: " in line]
        # The event waits for another process: a worker's processor turns it into the row.
        done = Processor(get_settings(read_dotenv=False), engine).process_due()
        assert [d.outcome for d in done] == ["stored"] and _weights(engine, grpid)
    finally:
        engine.dispose()
