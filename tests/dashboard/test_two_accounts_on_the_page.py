"""Two accounts on one dashboard: a picker, `?account=` on the page and its JSON, never the other's data."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from dashboard import make_server
from models import WithingsWeight, Workout
from storage.engine import make_engine
from tests.conftest import serving
from tests.helpers.accounts import WHOOP_USER, WITHINGS_USER, fill_two_accounts


@pytest.fixture
def two(db_url, monkeypatch):
    fill_two_accounts(db_url, monkeypatch)
    return db_url


def fetch(server, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def own_values(url: str, name: str) -> tuple[set[float], set[str]]:
    """Every weight and workout start the account's own provider user ids hold."""
    engine = make_engine(url)
    with engine.connect() as conn:
        kg = set(conn.execute(select(WithingsWeight.weight_kg).where(WithingsWeight.user_id == WITHINGS_USER[name])))
        starts = conn.execute(select(Workout.start).where(Workout.user_id == WHOOP_USER[name])).scalars()
        started = {s.replace(tzinfo=None).isoformat(timespec="seconds")[:16] for s in starts}
    engine.dispose()
    return {round(k[0], 2) for k in kg}, started


def test_each_account_has_its_page_and_its_json(two):
    with serving(make_server(two, "127.0.0.1", 0)) as server:
        pages = {name: json.loads(fetch(server, f"/api/summary?account={name}")[1]) for name in ("alice", "bob")}
        first = json.loads(fetch(server, "/api/summary")[1])
        status, html = fetch(server, "/?account=bob")
        missing, body = fetch(server, "/api/summary?account=carol")
        page_missing = fetch(server, "/?account=carol")[0]
    assert first["account"] == "alice" and first["accounts"] == ["alice", "bob"]  # the first account by default
    for name, summary in pages.items():
        weights, starts = own_values(two, name)
        assert summary["account"] == name and summary["weight"]["kg"] in weights
        assert summary["trends"]["weight"]["kg"] and set(summary["trends"]["weight"]["kg"]) <= weights
        assert summary["workouts"] and all(w["start"][:16] in starts for w in summary["workouts"])
    assert pages["alice"]["weight"] != pages["bob"]["weight"]
    assert status == 200
    assert b'id="accounts"' in html and b'href="/?account=alice"' in html
    assert b'aria-current="page" class="current">bob</a>' in html
    assert missing == 404 and "alice, bob" in json.loads(body)["error"] and page_missing == 404


def test_the_server_account_is_the_first_page_shown(two):
    with serving(make_server(two, "127.0.0.1", 0, account="bob")) as server:
        assert json.loads(fetch(server, "/api/summary")[1])["account"] == "bob"
        assert json.loads(fetch(server, "/api/summary?account=alice")[1])["account"] == "alice"


def test_one_account_shows_no_picker(db_url):
    with serving(make_server(db_url, "127.0.0.1", 0)) as server:
        status, html = fetch(server, "/")
    assert status == 200 and b'id="accounts"' not in html


def test_dashboard_account_unknown_exits_2_before_serving(two):
    from click.testing import CliRunner

    import etl

    result = CliRunner().invoke(etl.cli, ["dashboard", "--account", "carol", "--port", "0"])
    assert result.exit_code == 2 and "alice, bob" in result.stderr
