"""The README's receiver role, created for real on PostgreSQL: it can add events and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from commands.common import open_engine
from storage.engine import make_engine
from storage.inbound import InboundEvent
from tests.webhooks.conftest import WHOOP_USER, count, link_sandbox_users
from webhooks.sink import DatabaseSink, Outcome

README = Path(__file__).resolve().parents[2] / "README.md"
ROLE = "whoop_receiver_test_h9"


def _role_sql(database: str) -> list[str]:
    """The statements of the README's receiver-role block, for `database` and this test's role."""
    block = README.read_text().split("<!-- receiver-role", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("--")]
    statements = " ".join(lines).split(";")
    renamed = [re.sub(r"\bwhoop_receiver\b", ROLE, s) for s in statements if s.strip()]
    return [s.replace("ON DATABASE whoop ", f'ON DATABASE "{database}" ') for s in renamed]


def _drop_role(owner) -> None:
    with owner.begin() as conn:
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE}).scalar():
            conn.exec_driver_sql(f"DROP OWNED BY {ROLE}")
            conn.exec_driver_sql(f"DROP ROLE {ROLE}")


@pytest.fixture
def receiver_url(pg_url):
    """The test database's URL as the README's receiver role (created here, dropped after)."""
    owner = make_engine(pg_url)
    _drop_role(owner)
    with owner.begin() as conn:
        conn.exec_driver_sql("TRUNCATE inbound_event, account_provider RESTART IDENTITY")
        for statement in _role_sql(make_url(pg_url).database):
            conn.exec_driver_sql(statement)
    link_sandbox_users(owner)
    yield make_url(pg_url).set(username=ROLE, password="choose-a-password").render_as_string(hide_password=False)
    _drop_role(owner)
    owner.dispose()


def _event(trace: str, user_id: int = WHOOP_USER) -> InboundEvent:
    body = {"user_id": user_id, "id": "u-1", "type": "sleep.updated", "trace_id": trace}
    return InboundEvent("whoop", f"whoop:{trace}", user_id, body, "sleep.updated", "u-1", trace)


def test_the_receiver_role_stores_dedupes_and_tells_unknown_users(receiver_url, pg_url):
    open_engine(receiver_url, at_head=True).dispose()  # `serve`'s start-up check works as this role
    engine = make_engine(receiver_url)
    sink = DatabaseSink(engine)
    assert sink.accept(_event("t-1")) is Outcome.STORED
    assert sink.accept(_event("t-1")) is Outcome.DUPLICATE
    assert sink.accept(_event("t-2", user_id=999)) is Outcome.UNKNOWN_USER
    engine.dispose()
    owner = make_engine(pg_url)
    assert count(owner) == 1
    owner.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM inbound_event",
        "SELECT * FROM oauth_token",
        "SELECT * FROM cycles",
        "SELECT account_id FROM account_provider",
        "UPDATE inbound_event SET attempts = 1",
        "DELETE FROM inbound_event",
        "INSERT INTO account (name, created_at) VALUES ('x', CURRENT_TIMESTAMP)",
    ],
)
def test_the_receiver_role_cannot_read_health_data_or_change_rows(receiver_url, statement):
    engine = make_engine(receiver_url)
    with pytest.raises(ProgrammingError, match="permission denied"):
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
    engine.dispose()
