"""Shared fixtures: a migrated database on SQLite and on PostgreSQL for every data test."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

PROJECT_DIR = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR") or PROJECT_DIR.parent / "shared" / "data")
sys.path.insert(0, str(PROJECT_DIR))

from models import metadata  # noqa: E402 - imported once the checkout is on sys.path
from storage.engine import ensure_schema, make_engine  # noqa: E402 - imported once the checkout is on sys.path

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/whoop_test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def shared_data(name: str) -> Path:
    """A file in ../shared/data, or skip the test where the shared folder is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (a user's clone has no ../shared)")
    return path


def _admin_engine(url: str):
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def create_pg_database(url: str) -> None:
    """Create the database of `url` if it does not exist."""
    name = make_url(url).database
    admin = _admin_engine(url)
    try:
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = _admin_engine(url)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _postgres_or_skip() -> str:
    try:
        create_pg_database(PG_URL)
    except Exception as exc:
        message = f"PostgreSQL unavailable at {make_url(PG_URL).render_as_string(hide_password=True)}: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: PostgreSQL tests must not be skipped)")
        pytest.skip(message)
    return PG_URL


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The session's PostgreSQL test database, migrated to head."""
    url = _postgres_or_skip()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    ensure_schema(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    engine.dispose()
    return path


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY")
        # As a freshly migrated database has it (the accounts migration creates it).
        conn.exec_driver_sql("INSERT INTO account (name, created_at) VALUES ('default', CURRENT_TIMESTAMP)")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A migrated, empty database URL: a SQLite file, then the PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        os.chmod(path, 0o600)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _truncate_all(url)
    return url


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


@pytest.fixture
def fresh_pg_url():
    """An empty, un-migrated PostgreSQL database of its own (migration tests)."""
    base = _postgres_or_skip()
    url = make_url(base).set(database=f"whoop_test_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    create_pg_database(url)
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path) -> str:
    """An empty, un-migrated database on each dialect."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("fresh_pg_url")


PLATFORM_ENV_PREFIXES = (
    "WHOOP_",
    "WITHINGS_",
    "DATABASE_URL",
    "ETL_",
    "DASHBOARD_",
    "HTTP_TIMEOUT",
    "RATE_LIMIT_",
    "DB_CONNECT_",
    "DB_STATEMENT_",
)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    """Tests never read the developer's .env or inherit their WHOOP/Withings settings."""
    from api_clients.http import reset_limiters
    from configuration import logs, settings

    reset_limiters()  # the providers' limiters are per process: each test starts with empty windows
    monkeypatch.setattr(settings, "load_dotenv_once", lambda: None)
    monkeypatch.setattr(logs, "_secrets", set())  # each test starts with nothing registered for masking
    for name in list(os.environ):
        if name.startswith(PLATFORM_ENV_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def sandbox():
    """A sandbox API with 60 days of history, its clock a day behind ours (tests/helpers/sandbox_clock.py)."""
    from sandbox import SandboxServer
    from tests.helpers.sandbox_clock import sandbox_now

    with SandboxServer(days=60, seed=7, now=sandbox_now()) as server:
        yield server


@pytest.fixture
def etl_env(sandbox, db_url, monkeypatch):
    """Environment for the real ETL: the sandbox's apps and seed tokens, the test database."""
    for key, value in sandbox.environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", db_url)
    return sandbox


@pytest.fixture
def mock():
    """HTTP mocks, strict: a request nobody mocked fails, and so does a mock nobody used."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@contextmanager
def serving(server):
    """`server` answering on a thread of its own for the block, then shut down and closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def dashboard(db_url):
    """A running dashboard on a free loopback port over the test database."""
    from dashboard import make_server

    with serving(make_server(db_url, "127.0.0.1", 0)) as server:
        yield server
