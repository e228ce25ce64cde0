"""The MCP server through the SDK's own client, in-process: every tool, and every refusal."""

from __future__ import annotations

import asyncio
import json

import pytest
from mcp import Client
from sqlalchemy import text

from mcp_server.readonly import open_read_only
from mcp_server.server import build_server
from storage.engine import make_engine
from sync import resources
from tests.helpers.data import SECRET, fill, reader_role

TOOLS = {
    "latest_measurements",
    "daily_series",
    "recent_workouts",
    "sleep_night",
    "ecg_recordings",
    "sync_freshness",
    "list_tables",
    "query",
}


def call(url: str, *calls: tuple[str, dict]) -> list:
    """Each call's result, through one client session against a server on a read-only engine."""

    async def run():
        engine = open_read_only(url)
        try:
            async with Client(build_server(engine)) as client:
                listed = {t.name for t in (await client.list_tools()).tools}
                return [listed] + [await client.call_tool(name, args) for name, args in calls]
        finally:
            engine.dispose()

    return asyncio.run(run())


def payload(result):
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content.get("result", result.structured_content)
    return json.loads(result.content[0].text)


def error(result) -> str:
    assert result.is_error
    return result.content[0].text


@pytest.fixture
def filled(db_url):
    fill(db_url)
    return db_url


def test_every_tool_answers_from_the_database(filled):
    listed, latest, series, workouts, fresh, tables, rows = call(
        filled,
        ("latest_measurements", {}),
        ("daily_series", {"metric": "weight", "start_date": "2025-03-01", "end_date": "2025-03-31"}),
        ("recent_workouts", {"days": 100000}),
        ("sync_freshness", {}),
        ("list_tables", {}),
        ("query", {"sql": "SELECT whoop_id, strain FROM cycles ORDER BY whoop_id", "limit": 2}),
    )
    assert listed == TOOLS
    latest = payload(latest)
    assert latest["metrics"]["weight"] == {"value": 80.5, "unit": "kg", "at": "2025-03-05T06:00:00+00:00"}
    assert latest["metrics"]["strain"]["at"] == "2025-03-05T06:00:00+00:00" and latest["flagged"] == []
    assert latest["metrics"]["steps"] is None  # a metric without data says so
    series = payload(series)
    assert [d["date"] for d in series["days"]] == [f"2025-03-0{n}" for n in range(1, 6)]
    assert series["days"][0] == {"date": "2025-03-01", "value": 80.5} and series["unit"] == "kg"
    assert len(payload(workouts)) == 5
    assert {f["status"] for f in payload(fresh)} == {"never"}  # the fill wrote no sync_state
    assert len(payload(fresh)) == len(resources.RESOURCES)
    assert "oauth_token" not in payload(tables) and "strain" in payload(tables)["cycles"]
    assert "sleep_hours" in payload(tables)["daily"]  # the view people query
    if filled.startswith("postgresql"):  # the owner role: see test_postgres_sql_tool_needs_a_reader_role
        assert "MCP_DATABASE_URL" in error(rows)
        return
    rows = payload(rows)
    assert rows["columns"] == ["whoop_id", "strain"] and rows["rows"] == [[93845, 12.5], [93846, 12.5]]
    assert rows["truncated"] is True


def test_a_bad_metric_says_which_exist(filled):
    _, result = call(filled, ("daily_series", {"metric": "mood", "start_date": "2025-03-01", "end_date": "2025-03-02"}))
    assert "weight" in error(result) and "sleep_hours" in error(result)


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM cycles",
        "UPDATE cycles SET strain = 0",
        "SELECT 1; DELETE FROM cycles",
        "CREATE TABLE x (a int)",
        "DROP TABLE cycles",
    ],
)
def test_writes_are_refused_and_nothing_changes(filled, sql):
    _, result = call(filled, ("query", {"sql": sql}))
    assert result.is_error
    engine = make_engine(filled)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cycles WHERE strain = 12.5")).scalar() == 5
    engine.dispose()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM oauth_token",
        "SELECT count(*) FROM oauth_token",
        "WITH t AS (SELECT refresh_token FROM oauth_token) SELECT * FROM t",
        "SELECT (SELECT access_token FROM oauth_token LIMIT 1) AS x",
    ],
)
def test_the_token_table_is_out_of_reach(db_url, sql):
    if db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: see test_postgres_sql_tool_needs_a_reader_role")
    fill(db_url)
    _, result = call(db_url, ("query", {"sql": sql}))
    message = error(result)
    assert ("not authorized" in message or "prohibited" in message) and SECRET not in message


def test_sqlite_queries_stop_at_the_timeout(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL timeout is statement_timeout, tested with the reader role")
    from mcp_server import readonly

    engine = open_read_only(db_url)
    slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    with pytest.raises(readonly.QueryRefused, match="interrupted"):
        readonly.run_query(engine, slow, timeout=0.2)
    engine.dispose()


def test_postgres_sql_tool_needs_a_reader_role(db_url):
    """PostgreSQL: the owner is refused the SQL tool; a SELECT-only role gets it, tokens still denied."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite is covered by the authorizer tests")
    fill(db_url)
    _, owner = call(db_url, ("query", {"sql": "SELECT count(*) FROM cycles"}))
    assert "MCP_DATABASE_URL" in error(owner)
    admin = make_engine(db_url)
    with reader_role(db_url) as reader:
        _, ok, token, write, escape, slow = call(
            reader,
            ("query", {"sql": "SELECT count(*) AS n FROM cycles"}),
            ("query", {"sql": "SELECT * FROM oauth_token"}),
            ("query", {"sql": "DELETE FROM cycles"}),
            ("query", {"sql": "SELECT 1) q; COMMIT; BEGIN READ WRITE; DELETE FROM cycles; SELECT * FROM (SELECT 1"}),
            ("query", {"sql": "SELECT pg_sleep(30)"}),
        )
        assert payload(ok)["rows"] == [[5]]
        assert "permission denied" in error(token) and SECRET not in error(token)
        assert write.is_error and escape.is_error
        assert "statement timeout" in error(slow) or "cancel" in error(slow)
        with admin.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM cycles")).scalar() == 5
    admin.dispose()
