"""The README's PostgreSQL roles recipe, run as written against a real server: the reader cannot
take an advisory lock (so it cannot stop a sync), the ETL still runs, the MCP role check passes
the reader and refuses a role that can lock, and a person's role reads only their own rows."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from mcp_server.readonly import pg_sql_refusal
from tests.helpers.data import readme_roles_recipe
from tests.helpers.etl import run_etl


def _statements(block: str) -> list[str]:
    """A recipe block's statements (a `DO $$ ... $$` block is one), `\\c` lines kept."""
    out, current = [], []
    for line in block.splitlines():
        if line.startswith("\\c "):
            out.append(line.strip())
            continue
        current.append(line)
        joined = "\n".join(current)
        if line.rstrip().endswith(";") and joined.count("$$") % 2 == 0:
            out.append(joined.strip())
            current = []
    return [s for s in out if s]


class Recipe:
    """The recipe's names made unique on the shared server: its roles and database."""

    def __init__(self, server_url: str):
        self.tag = uuid.uuid4().hex[:8]
        self.database = f"whoop_recipe_{self.tag}"
        self.names = {
            "whoop_etl": f"whoop_etl_{self.tag}",
            "whoop_reader": f"whoop_reader_{self.tag}",
            "whoop_alice": f"whoop_alice{self.tag}",
        }
        self.server = make_url(server_url)

    def url(self, role: str = "postgres", database: str | None = None) -> str:
        url = self.server.set(username=self.names.get(role, role), password=None, database=database or self.database)
        return url.render_as_string(hide_password=False)

    def adapt(self, sql: str) -> str:
        for name, unique in self.names.items():
            sql = sql.replace(name, unique)
        return sql.replace("DATABASE whoop ", f"DATABASE {self.database} ").replace("\\c whoop", f"\\c {self.database}")

    def run(self, block: str, database: str) -> str:
        """Run a block as the superuser, as psql would, starting in `database`; the database it ended in."""
        engine = create_engine(self.url(database=database), isolation_level="AUTOCOMMIT")
        conn = engine.connect()
        try:
            for statement in _statements(self.adapt(block)):
                if statement.startswith("\\c "):
                    conn.close()
                    engine.dispose()
                    database = statement.split()[1]
                    engine = create_engine(self.url(database=database), isolation_level="AUTOCOMMIT")
                    conn = engine.connect()
                    continue
                with conn.connection.driver_connection.cursor() as cursor:
                    cursor.execute(statement)  # no parameters: psql's text, `%` and all
        finally:
            conn.close()
            engine.dispose()
        return database

    def execute(self, role: str, sql: str):
        engine = create_engine(self.url(role))
        try:
            with engine.begin() as conn:
                return conn.execute(text(sql)).all()
        finally:
            engine.dispose()

    def drop(self) -> None:
        engine = create_engine(self.url(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            for role in self.names.values():
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        engine.dispose()


@pytest.fixture
def recipe(pg_url):
    made = Recipe(pg_url)
    try:
        yield made
    finally:
        made.drop()


def test_the_recipe_as_written_keeps_readers_off_the_locks_and_people_apart(recipe, sandbox, monkeypatch):
    etl_block, reader_block, person_block = readme_roles_recipe()
    database = recipe.run(etl_block, "postgres")
    assert database == recipe.database
    for key, value in sandbox.environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", recipe.url("whoop_etl"))
    assert run_etl()[0] == 0  # the ETL's role creates the tables and syncs
    recipe.run(reader_block, database)
    recipe.run(f"UPDATE account SET name = 'alice{recipe.tag}' WHERE name = 'default';", database)
    recipe.run(person_block, database)

    # The reader: refused every advisory lock, so it cannot hold the run lock; the MCP tool takes it.
    for sql in ("SELECT pg_advisory_lock(1)", "SELECT pg_try_advisory_xact_lock(1, 2)"):
        with pytest.raises(ProgrammingError, match="permission denied for function"):
            recipe.execute("whoop_reader", sql)
    for role, refusal in (("whoop_reader", None), ("whoop_alice", None), ("whoop_etl", "can take advisory locks")):
        engine = create_engine(recipe.url(role))
        raw = engine.raw_connection()
        try:
            found = pg_sql_refusal(raw.cursor())
        finally:
            raw.close()
            engine.dispose()
        assert (found is None) if refusal is None else (refusal in found), (role, found)
    assert run_etl()[0] == 0  # and the ETL still runs

    # Row security: another person's cycle is the reader's to see, never alice's.
    recipe.run(
        "CREATE TEMP TABLE other AS SELECT * FROM cycles LIMIT 1; "
        "UPDATE other SET id = id + 1000000, user_id = 424242, whoop_id = whoop_id + 1000000; "
        "INSERT INTO cycles SELECT * FROM other;",
        database,
    )
    everyone = recipe.execute("whoop_reader", "SELECT count(*) FROM cycles")[0][0]
    alices = recipe.execute("whoop_alice", "SELECT count(*) FROM cycles")[0][0]
    assert alices == everyone - 1 and alices > 0
    assert recipe.execute("whoop_alice", "SELECT count(*) FROM cycles WHERE user_id = 424242")[0][0] == 0
    assert recipe.execute("whoop_alice", "SELECT count(*) FROM sync_state")[0][0] > 0
    assert recipe.execute("whoop_alice", "SELECT count(*) FROM daily")[0][0] > 0
    with pytest.raises(ProgrammingError, match="permission denied"):
        recipe.execute("whoop_alice", "SELECT * FROM oauth_token")
