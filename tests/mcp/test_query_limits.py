"""The MCP `query` tool and the fixed tools under hostile input, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time

import pytest
from sqlalchemy.engine import make_url

from mcp_server import readonly
from mcp_server.readonly import QueryRefused, open_read_only, run_query
from storage.engine import make_engine
from sync.lock import ADVISORY_KEY
from tests.helpers.data import SECRET, fill, reader_role
from tests.mcp.test_tools import call, error, payload


@pytest.fixture
def filled(db_url):
    fill(db_url)
    return db_url


@pytest.fixture
def reader(filled):
    """On PostgreSQL, a URL for a role made by the README's recipe; on SQLite the database itself."""
    if not filled.startswith("postgresql"):
        yield filled
        return
    with reader_role(filled) as url:
        yield url


def query(url: str, sql: str, **kwargs) -> dict:
    engine = open_read_only(url)
    try:
        return run_query(engine, sql, **kwargs)
    finally:
        engine.dispose()


BIG_ROWS = {  # 50 rows of about 100 kB: 5 MB, five times the reply cap
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
    "SELECT i, hex(zeroblob(50000)) AS blob FROM n",
    "postgresql": "SELECT i, repeat('x', 100000) AS blob FROM generate_series(1, 50) AS i",
}


def test_replies_are_capped_in_bytes(reader):
    result = query(reader, BIG_ROWS[make_url(reader).get_backend_name()], limit=1000)
    assert result["truncated"] is True and 1 <= len(result["rows"]) < 50
    assert len(json.dumps(result["rows"])) <= readonly.MAX_REPLY_BYTES
    assert [row[0] for row in result["rows"]] == list(range(1, len(result["rows"]) + 1))


def test_one_row_larger_than_the_cap_is_withheld_and_said_so(reader):
    sql = "SELECT 1 AS i, " + ("hex(zeroblob(600000))" if reader.startswith("sqlite") else "repeat('x', 1200000)")
    result = query(reader, sql)
    assert result["rows"] == [] and result["truncated"] is True and result["columns"][0] == "i"


# --- SQLite -----------------------------------------------------------------------------------


def _sqlite_only(url: str) -> None:
    if not url.startswith("sqlite"):
        pytest.skip("SQLite's authorizer and worker process")


def test_sqlite_reads_only_the_declared_tables(filled):
    _sqlite_only(filled)
    engine = make_engine(filled)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (secret text)")
        conn.exec_driver_sql(f"INSERT INTO notes VALUES ('{SECRET}')")
    engine.dispose()
    for sql in (
        "SELECT * FROM notes",
        "SELECT * FROM alembic_version",
        "WITH t AS (SELECT secret FROM notes) SELECT * FROM t",
    ):
        with pytest.raises(QueryRefused, match="not authorized|prohibited") as refused:
            query(filled, sql)
        assert SECRET not in str(refused.value)
    assert query(filled, "SELECT count(*) FROM cycles")["rows"] == [[5]]
    assert query(filled, "SELECT name FROM sqlite_master WHERE name = 'cycles'")["rows"] == [["cycles"]]


def test_sqlite_raw_page_tables_are_refused_on_builds_that_have_them():
    # sqlite_dbpage (SQLITE_ENABLE_DBPAGE_VTAB) hands out raw pages, the token table's among
    # them; whether this SQLite has it or not, the authorizer denies reading it.
    from mcp_server import sqlite_worker

    check = sqlite_worker.query_authorizer(frozenset(readonly.queryable_tables()))
    for table in ("sqlite_dbpage", "sqlite_stmt", "dbstat", "oauth_token"):
        assert check(sqlite3.SQLITE_READ, table, "data", "main", None) == sqlite3.SQLITE_DENY
    assert check(sqlite3.SQLITE_READ, "cycles", "strain", "main", None) == sqlite3.SQLITE_OK


def test_sqlite_deadline_holds_within_one_row(filled, monkeypatch):
    _sqlite_only(filled)
    ticks = itertools.count(step=10)
    monkeypatch.setattr(readonly, "clock", lambda: float(next(ticks)), raising=False)  # 10 s a look
    # One row, ten calls that each compare a 20,000-character pattern at 400,000 places:
    # seconds of work in a handful of VM steps, where SQLite never looks at its interrupt flag.
    call = "length(replace(hex(zeroblob(200000)), hex(zeroblob(20000)) || '1', 'x'))"
    with pytest.raises(QueryRefused, match="deadline and was interrupted"):
        query(filled, "SELECT " + ", ".join([call] * 10), timeout=5)


def test_sqlite_values_are_capped_in_length(filled):
    _sqlite_only(filled)
    with pytest.raises(QueryRefused, match="too big"):
        query(filled, "SELECT length(hex(zeroblob(10000000)))")


# --- PostgreSQL -------------------------------------------------------------------------------


def _postgres_only(url: str) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL's statements, backends and roles")


def _admin_run(url: str, *statements: str) -> None:
    admin = make_engine(url)
    with admin.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    admin.dispose()


def _lock_is_free(url: str) -> bool:
    """Whether the ETL's run lock can be taken now (taken and released at once), waiting at most 5 s."""
    admin = make_engine(url)
    try:
        for _ in range(100):
            with admin.connect() as conn:
                if conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({ADVISORY_KEY})").scalar():
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({ADVISORY_KEY})")
                    return True
            time.sleep(0.05)
        return False
    finally:
        admin.dispose()


def _sessions_of(url: str, role: str) -> int:
    admin = make_engine(url)
    try:
        for _ in range(100):
            with admin.connect() as conn:
                count = conn.exec_driver_sql(f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{role}'").scalar()
            if not count:
                return 0
            time.sleep(0.05)
        return count
    finally:
        admin.dispose()


CATCHES_CANCEL = """
DO $$ DECLARE t timestamptz := clock_timestamp(); BEGIN
  PERFORM pg_advisory_lock({key});
  LOOP
    BEGIN PERFORM pg_sleep(0.05); EXCEPTION WHEN query_canceled THEN NULL; END;
    EXIT WHEN clock_timestamp() > t + interval '4 seconds';
  END LOOP;
END $$"""


def test_postgres_one_statement_per_call(filled, reader):
    _postgres_only(reader)
    escape = f"SELECT 1) q; {CATCHES_CANCEL.format(key=ADVISORY_KEY)}; SELECT * FROM (SELECT 1"
    for sql in (escape, "SELECT 1; SELECT 2", "SELECT 1) q; SELECT 2; SELECT * FROM (SELECT 1"):
        with pytest.raises(QueryRefused, match="one statement"):
            query(reader, sql, timeout=0.3)
    assert _lock_is_free(filled)
    # Semicolons inside strings, quoted names, comments and $$ strings are not statements.
    ok = query(reader, """SELECT ';' AS "a;b", $x$;$x$ AS c /* ; */ -- ;\n""")
    assert ok["columns"] == ["a;b", "c"] and ok["rows"] == [[";", ";"]]
    for ambiguous in ("SELECT 'a\\'; SELECT 1 --'", "SELECT 1e'\\'';SELECT 2--'", "SELECT 'open"):
        with pytest.raises(QueryRefused):
            query(reader, ambiguous)


def test_postgres_deadline_ends_a_query_that_catches_its_cancel(filled, reader):
    _postgres_only(reader)
    role = make_url(reader).username
    _admin_run(
        filled,
        """CREATE FUNCTION outlast(seconds float) RETURNS int LANGUAGE plpgsql AS $$
        DECLARE t timestamptz := clock_timestamp(); BEGIN
          LOOP
            BEGIN PERFORM pg_sleep(0.05); EXCEPTION WHEN query_canceled THEN NULL; END;
            EXIT WHEN clock_timestamp() > t + make_interval(secs => seconds);
          END LOOP;
          RETURN 1;
        END $$""",
        f"ALTER FUNCTION outlast(float) OWNER TO {role}",
    )
    # The function outlives a cancel for 8 s; the tool's own deadline is 0.3 s.
    with pytest.raises(QueryRefused, match="deadline; its connection was ended"):
        query(reader, "SELECT outlast(8)", timeout=0.3)
    assert _sessions_of(filled, role) == 0  # the backend is gone, not left running


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT pg_advisory_lock({ADVISORY_KEY})",
        f"SELECT pg_try_advisory_xact_lock({ADVISORY_KEY})",
        f'SELECT "pg_advisory_lock"({ADVISORY_KEY})',
        f'SELECT U&"pg_\\0061dvisory_lock"({ADVISORY_KEY})',
        "SELECT query_to_xml('SELECT pg_advisory' || '_lock(' || 1 || ')', true, false, '')",
        "SELECT * FROM ts_stat('SELECT 1')",
    ],
)
def test_postgres_readers_cannot_name_the_run_lock(filled, reader, sql):
    _postgres_only(reader)
    with pytest.raises(QueryRefused, match="not available to the query tool|not accepted"):
        query(reader, sql)
    assert _lock_is_free(filled)


def test_postgres_a_lock_taken_indirectly_is_refused_and_released(filled, reader):
    _postgres_only(reader)
    role = make_url(reader).username
    _admin_run(
        filled,
        f"""CREATE FUNCTION grab() RETURNS int LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_lock({ADVISORY_KEY}); RETURN 1; END $$""",
        f"ALTER FUNCTION grab() OWNER TO {role}",
    )
    with pytest.raises(QueryRefused, match="advisory lock"):
        query(reader, "SELECT grab()")
    assert _lock_is_free(filled)


ESCALATIONS = {
    "CREATEROLE": "has CREATEROLE",
    "CREATEDB": "has CREATEDB",
    "REPLICATION": "has REPLICATION",
    "BYPASSRLS": "has BYPASSRLS",
    "SUPERUSER": "is a superuser",
    "pg_execute_server_program": "server-file or read-all role",
    "pg_read_server_files": "server-file",
    "pg_write_server_files": "server-file",
    "pg_read_all_data": "read-all role",
}


@pytest.mark.parametrize("power", ESCALATIONS)
def test_postgres_role_check_refuses_a_role_that_can_raise_itself(filled, reader, power):
    _postgres_only(reader)
    role = make_url(reader).username
    grant = f"GRANT {power} TO {role}" if power.startswith("pg_") else f"ALTER ROLE {role} {power}"
    _admin_run(filled, grant)
    try:
        with pytest.raises(QueryRefused, match=ESCALATIONS[power]) as refused:
            query(reader, "SELECT count(*) FROM cycles")
        assert "MCP_DATABASE_URL" in str(refused.value)
    finally:
        revoke = f"REVOKE {power} FROM {role}" if power.startswith("pg_") else f"ALTER ROLE {role} NO{power}"
        _admin_run(filled, revoke)
    assert query(reader, "SELECT count(*) FROM cycles")["rows"] == [[5]]  # the recipe's role still works


# --- the fixed tools --------------------------------------------------------------------------


def test_tools_refuse_huge_ranges_with_a_message(filled):
    _, everything, backwards, forever = call(
        filled,
        ("daily_series", {"metric": "strain", "start_date": "0001-01-01", "end_date": "9999-12-31"}),
        ("daily_series", {"metric": "strain", "start_date": "2025-03-05", "end_date": "2025-03-01"}),
        ("recent_workouts", {"days": 10**9}),
    )
    assert "between 1900-01-01 and 2199-12-31" in error(everything)
    assert "after end_date" in error(backwards)
    assert "days must be between 1 and 100000" in error(forever)
    _, edge = call(filled, ("daily_series", {"metric": "strain", "start_date": "2199-12-01", "end_date": "2199-12-31"}))
    assert payload(edge)["days"] == []


@pytest.mark.parametrize("sql", ["DELETE FROM withings_weight", "SELECT 1; SELECT 2", "", "  drop table daily"])
def test_a_refused_query_says_what_the_tool_takes(filled, reader, sql):
    with pytest.raises(QueryRefused, match="one SELECT only"):
        query(reader, sql)
