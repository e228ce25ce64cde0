"""Adding a resource touches nothing but its declaration, mapper, model and table.

This module declares a resource of its own (a WHOOP-style journal) and runs it end to end
through the real command line, runner, loader, quarantine, reconciliation and sync_state, on
SQLite and PostgreSQL, against the sandbox serving one extra route.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, Table, UniqueConstraint, select

from mapping.fields import MappingError, integer, parse_timestamp, require
from sandbox.web import json_response
from storage import quarantine
from storage.engine import make_engine
from sync import resources
from tests.helpers.etl import by_resource, run_etl, sync_states

JOURNAL_PATH = "/developer/v2/test/journal"


# Its own metadata: the project's schema (and its migration check) never sees this table.
JOURNAL_TABLE = Table(
    "test_journal_entry",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("whoop_id", BigInteger, nullable=False),
    Column("start", DateTime(timezone=True), nullable=False, index=True),
    Column("mood", Integer, nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("synced_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_id", "whoop_id"),
)


def journal_to_row(record: dict, *, now: datetime) -> dict:
    """A journal entry -> a `test_journal_entry` row; a mood outside 1..5 is a MappingError."""
    mood = integer(require(record, "mood"), "mood")
    if not 1 <= mood <= 5:
        raise MappingError(f"mood out of bounds: {mood}")
    return {
        "user_id": integer(require(record, "user_id"), "user_id"),
        "whoop_id": integer(require(record, "id"), "id"),
        "start": parse_timestamp(require(record, "start"), "start", now),
        "mood": mood,
    }


JOURNAL = resources.WhoopCollection(
    source="whoop",
    name="journal",
    label="WHOOP journal",
    path=JOURNAL_PATH,
    scope="read:journal",
    what="journal entries",
    model=JOURNAL_TABLE,
    mapper=journal_to_row,
    freshness=(JOURNAL_TABLE.c.start,),
    quarantine_key="id",
    reconcile_on="start",
)


@pytest.fixture
def journal(etl_env, db_url, monkeypatch):
    """The declaration added to the list, its table created, its route served by the sandbox."""
    engine = make_engine(db_url)
    JOURNAL_TABLE.create(engine)
    monkeypatch.setattr(resources, "RESOURCES", (*resources.RESOURCES, JOURNAL))
    entries: list[dict] = []
    whoop = etl_env.app.whoop
    served = whoop._get  # the sandbox's WHOOP routes, behind its token check and rate limit

    def with_journal(req, person):
        if req.path == JOURNAL_PATH:
            return json_response({"records": list(entries), "next_token": None})
        return served(req, person)

    monkeypatch.setattr(whoop, "_get", with_journal)
    yield entries
    JOURNAL_TABLE.drop(engine)
    engine.dispose()


def _entry(ident: int, mood: int, when: datetime) -> dict:
    return {"id": ident, "user_id": 10129, "start": when.isoformat().replace("+00:00", "Z"), "mood": mood}


def _stored(db_url) -> dict[int, tuple]:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = {r.whoop_id: (r.mood, r.deleted_at is not None) for r in conn.execute(select(JOURNAL_TABLE))}
        held = [q.record_key for q in quarantine.entries(conn, "whoop", "journal")]
    engine.dispose()
    return {"rows": rows, "quarantined": held}


def test_a_declared_resource_runs_end_to_end(journal, db_url):
    day = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    journal[:] = [_entry(1, 4, day), _entry(2, 2, day + timedelta(hours=1)), _entry(3, 9, day + timedelta(hours=2))]
    code, summary, err = run_etl("--source", "whoop")
    assert code == 0, err
    result = by_resource(summary)["journal"]
    assert (result["status"], result["inserted"], result["quarantined"]) == ("ok", 2, 1)
    assert _stored(db_url) == {"rows": {1: (4, False), 2: (2, False)}, "quarantined": ["id=3"]}
    assert sync_states(db_url)["journal"].status == "ok"

    # The next run: entry 2 is gone (marked, kept), entry 1 edited, entry 3 fixed and stored.
    journal[:] = [_entry(1, 5, day), _entry(3, 3, day + timedelta(hours=2))]
    code, summary, err = run_etl("--source", "whoop")
    assert code == 0, err
    result = by_resource(summary)["journal"]
    assert (result["updated"], result["deleted"], result["recovered"]) == (1, 1, 1)
    assert _stored(db_url) == {"rows": {1: (5, False), 2: (2, True), 3: (3, False)}, "quarantined": []}
