"""The MCP tools with two accounts: `--account` answers for one, none for all, every answer names its account."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from mcp import Client
from sqlalchemy import select

import etl
from mcp_server.readonly import open_read_only
from mcp_server.server import build_server
from models import WithingsWeight
from storage import accounts
from storage.engine import make_engine
from sync import resources
from tests.helpers.accounts import WITHINGS_USER, fill_two_accounts
from tests.mcp.test_tools import error, payload


@pytest.fixture
def two(db_url, monkeypatch):
    fill_two_accounts(db_url, monkeypatch)
    engine = make_engine(db_url)
    with engine.begin() as conn:  # an empty default beside them, as the migration leaves it: not listed
        accounts.ensure(conn, "default")
    engine.dispose()
    return db_url


def call(url: str, accounts: tuple[str, ...], *calls: tuple[str, dict]) -> list:
    async def run():
        engine = open_read_only(url)
        try:
            async with Client(build_server(engine, accounts=accounts)) as client:
                return [await client.call_tool(name, args) for name, args in calls]
        finally:
            engine.dispose()

    return asyncio.run(run())


def weights_of(url: str, name: str) -> set[float]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(select(WithingsWeight.weight_kg).where(WithingsWeight.user_id == WITHINGS_USER[name]))
        kg = {round(v, 6) for v in found.scalars()}
    engine.dispose()
    return kg


TOOLS = (
    ("latest_measurements", {}),
    ("sync_freshness", {}),
    ("recent_workouts", {"days": 100000, "limit": 200}),
    ("daily_series", {"metric": "weight", "start_date": "2000-01-01", "end_date": "2199-01-01"}),
)


def test_one_account_answers_for_that_account_only(two):
    for name, other in (("alice", "bob"), ("bob", "alice")):
        latest, fresh, workouts, series = map(payload, call(two, (name,), *TOOLS))
        assert latest["account"] == name and round(latest["metrics"]["weight"]["value"], 6) in weights_of(two, name)
        assert {f["account"] for f in fresh} == {name} and len(fresh) == len(resources.RESOURCES)
        assert workouts and {w["account"] for w in workouts} == {name}
        days = [round(d["value"], 6) for d in series["days"]]
        assert series["account"] == name and days and set(days) <= weights_of(two, name)
        assert set(days) != weights_of(two, other)


def test_without_account_every_answer_names_its_account(two):
    latest, fresh, workouts, series = map(payload, call(two, (), *TOOLS))
    assert [a["account"] for a in latest["accounts"]] == ["alice", "bob"]
    for answer in latest["accounts"]:
        assert round(answer["metrics"]["weight"]["value"], 6) in weights_of(two, answer["account"])
    assert sorted(f["account"] for f in fresh) == ["alice"] * len(resources.RESOURCES) + ["bob"] * len(
        resources.RESOURCES
    )
    assert {w["account"] for w in workouts} == {"alice", "bob"}
    assert [a["account"] for a in series["accounts"]] == ["alice", "bob"]


def test_an_unknown_account_is_refused_with_the_names(two):
    (result,) = call(two, ("carol",), ("latest_measurements", {}))
    assert "alice, bob" in error(result)
    result = CliRunner().invoke(etl.cli, ["mcp", "--account", "carol"])  # before serving anything
    assert result.exit_code == 2 and "alice, bob" in result.stderr
