"""Two accounts of one install: status, status --check and export show each one's data, never the other's."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update

import etl
from configuration import clock
from models import SyncState
from storage import accounts
from storage.engine import make_engine
from sync import resources
from tests.helpers.accounts import WHOOP_USER, WITHINGS_USER, fill_two_accounts


@pytest.fixture(autouse=True)
def _sandbox_lag(monkeypatch):
    """The sandbox's clock runs a day behind ours, so its newest records look a day older."""
    for resource in resources.RESOURCES:
        if resource.stale_after < timedelta(days=3):
            monkeypatch.setenv(f"STALE_AFTER_{resource.source.upper()}_{resource.name.upper()}", "3d")


@pytest.fixture
def two(db_url, monkeypatch):
    fill_two_accounts(db_url, monkeypatch)
    return db_url


def cli(*args: str):
    result = CliRunner().invoke(etl.cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_status_reports_each_account_with_its_own_data(two):
    code, out, _ = cli("status")
    assert code == 0
    alice, bob = out.split("Account bob:")
    assert alice.startswith("Account alice:") and "Latest weight" in alice and "Latest weight" in bob
    code, out, _ = cli("status", "--json")
    reports = {r["account"]: r for r in json.loads(out)["accounts"]}
    assert set(reports) == {"alice", "bob"}
    for name, report in reports.items():
        assert report["latest_weight"]["user_id"] == WITHINGS_USER[name]
        assert {r["account"] for r in report["resources"] + report["tokens"]} == {name}
        assert {t["provider"] for t in report["tokens"]} == {"whoop", "withings"}
        assert all(r["last_success_at"] for r in report["resources"])
    code, out, _ = cli("status", "--account", "bob", "--json")
    assert json.loads(out)["account"] == "bob"


def test_an_unknown_account_exits_2_listing_the_accounts(two):
    code, _, err = cli("status", "--account", "carol")
    assert code == 2 and "alice, bob" in err
    code, out, err = cli("status", "--check", "--json", "--account", "carol")
    assert code == 2 and "alice, bob" in err and json.loads(out)["exit_code"] == 2


def test_check_names_the_account_of_each_problem_and_exits_with_the_worst(two):
    code, out, err = cli("status", "--check", "--json")
    report = json.loads(out)
    assert (code, err, report["problems"]) == (0, "", [])
    assert [a["account"] for a in report["accounts"]] == ["alice", "bob"]
    assert len(report["resources"]) == 2 * len(resources.RESOURCES)
    engine = make_engine(two)
    with engine.begin() as conn:
        bob = accounts.require(conn, "bob")
        conn.execute(
            update(SyncState)
            .where(SyncState.account_id == bob, SyncState.resource == "cycles")
            .values(last_success_at=clock.utcnow() - timedelta(days=5))
        )
    engine.dispose()
    code, out, err = cli("status", "--check")
    assert (code, err.splitlines()) == (1, ["bob: WHOOP cycles last synced 5 days ago"])
    assert cli("status", "--check", "--account", "alice")[0] == 0
    report = json.loads(cli("status", "--check", "--json")[1])
    assert [(p["account"], p["resource"]) for p in report["problems"]] == [("bob", "cycles")]
    assert {a["account"]: a["exit_code"] for a in report["accounts"]} == {"alice": 0, "bob": 1}


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_export_of_one_account_holds_only_its_provider_user_ids(two, tmp_path):
    for name in ("alice", "bob"):
        folder = tmp_path / name
        code, _, err = cli("export", "all", "--account", name, "--output", str(folder))
        assert code == 0, err
        mine = {str(WHOOP_USER[name]), str(WITHINGS_USER[name])}
        for resource in resources.RESOURCES:
            for table in resource.tables:
                rows = read_csv(folder / f"{table.name}.csv")
                # The sandbox's people wear no watch or sleep monitor: their series tables are empty.
                assert rows or getattr(resource, "series", False), table.name
                assert {r["user_id"] for r in rows} <= mine, table.name
        states = read_csv(folder / "sync_state.csv")
        assert len(states) == len(resources.RESOURCES) and {r["user_id"] for r in states} <= mine
    code, _, _ = cli("export", "cycles", "--output", str(tmp_path / "all"))
    assert {r["user_id"] for r in read_csv(tmp_path / "all" / "cycles.csv")} == {str(u) for u in WHOOP_USER.values()}
    assert cli("export", "all", "--account", "carol", "--output", str(tmp_path / "c"))[0] == 2


def test_the_daily_export_of_an_account_pairs_its_own_two_providers(two, tmp_path):
    whole = tmp_path / "whole"
    cli("export", "daily", "--output", str(whole))
    everyone = read_csv(whole / "daily.csv")
    for name in ("alice", "bob"):
        cli("export", "daily", "--account", name, "--output", str(tmp_path / name))
        rows = read_csv(tmp_path / name / "daily.csv")
        assert {r["whoop_user_id"] for r in rows} <= {str(WHOOP_USER[name]), ""}
        assert {r["withings_user_id"] for r in rows} <= {str(WITHINGS_USER[name]), ""}
        assert len({r["day"] for r in rows}) == len(rows)  # one row a day: one person
        paired = [r for r in rows if r["whoop_user_id"] and r["withings_user_id"]]
        assert paired and all(r["recovery"] or r["weight"] or r["steps"] for r in paired)
        # The very values the whole view holds for this person's pair of user ids.
        same = {
            (r["day"], r["recovery"], r["weight"])
            for r in everyone
            if r["whoop_user_id"] == str(WHOOP_USER[name]) and r["withings_user_id"] == str(WITHINGS_USER[name])
        }
        assert {(r["day"], r["recovery"], r["weight"]) for r in paired} == same


def test_an_empty_default_account_beside_named_ones_is_left_out(two):
    engine = make_engine(two)
    with engine.begin() as conn:
        accounts.ensure(conn, "default")  # as the migration leaves it: no provider user, no token
    engine.dispose()
    code, out, _ = cli("status", "--check", "--json")
    assert code == 0 and [a["account"] for a in json.loads(out)["accounts"]] == ["alice", "bob"]
    assert cli("status", "--check", "--account", "default")[0] == 3  # named, it is judged: not connected


def test_a_removed_accounts_kept_rows_are_read_as_nobodys(two):
    """Remove bob keeping his data, then a newer weigh-in of his: with alice the one account left,
    status, its check, the MCP tools and the dashboard (alice named or not) read her rows only."""
    import asyncio

    from mcp import Client

    from dashboard.summary import load_summary
    from mcp_server.readonly import open_read_only
    from mcp_server.server import build_server
    from models import WithingsWeight

    assert cli("accounts", "remove", "bob")[0] == 0
    engine = make_engine(two)
    with engine.begin() as conn:
        conn.execute(
            WithingsWeight.__table__.insert().values(
                user_id=WITHINGS_USER["bob"],
                grpid=990_001,
                measured_at=clock.utcnow(),
                weight_kg=123.4,
                raw={},
                synced_at=clock.utcnow(),
            )
        )
    report = json.loads(cli("status", "--json")[1])
    assert report["account"] == "alice" and report["latest_weight"]["user_id"] == WITHINGS_USER["alice"]
    check = json.loads(cli("status", "--check", "--json")[1])
    assert check["latest"]["weight"]["user_id"] == WITHINGS_USER["alice"]
    for name in (None, "alice"):
        assert load_summary(engine, account=name)["weight"]["kg"] != 123.4
    engine.dispose()

    async def latest() -> dict:
        reader = open_read_only(two)
        try:
            async with Client(build_server(reader)) as client:
                return json.loads((await client.call_tool("latest_measurements", {})).content[0].text)
        finally:
            reader.dispose()

    answer = asyncio.run(latest())
    assert answer["account"] == "alice" and answer["metrics"]["weight"]["value"] != 123.4
