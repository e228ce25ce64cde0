"""`quarantine`: list, show, retry, acknowledge and dismiss the records that could not be stored."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import db_loader
import etl
from models import Cycle, Quarantine
from storage import quarantine
from sync import resources
from tests.helpers import factories as f

SEEN = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)  # the clock these tests control


@pytest.fixture
def held(session, db_url, monkeypatch):
    """Two held records: a WHOOP cycle from 1970 and a Withings group with a fractional raw value."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    cycle = f.cycle(1)
    cycle["start"] = "1970-01-01T00:00:00.000Z"
    group = f.weight_group(61)
    group["measures"][0]["value"] = 80_500.5
    quarantine.quarantine_records(
        session,
        "whoop",
        "cycles",
        key_field="id",
        rejected=[quarantine.Rejected(cycle, "start out of bounds")],
        now=SEEN,
    )
    quarantine.quarantine_records(
        session,
        "withings",
        "measures",
        key_field="grpid",
        rejected=[quarantine.Rejected(group, "measures.value must be an integer")],
        user_id=5,
        timezone="Europe/Rome",
        now=SEEN + timedelta(hours=1),
    )
    ids = {q.resource: q.id for q in session.scalars(select(Quarantine))}
    session.commit()
    return ids


@pytest.fixture
def cli(session):
    """`quarantine ARGS` as a user runs it; the test's own transaction ends first (a SQLite writer
    holds its lock until then)."""

    def invoke(*args: str):
        session.commit()
        result = CliRunner().invoke(etl.cli, ["quarantine", *args], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_the_list_shows_every_item_with_its_state(held, cli):
    code, out, _ = cli()
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["id", "state", "resource", "key"]
    assert "whoop cycles" in lines[1] and "id=93846" in lines[1] and "new" in lines[1]
    assert "2026-03-01 08:00" in lines[1] and "start out of bounds" in lines[1]
    assert "withings measures" in lines[2] and "grpid=61" in lines[2]
    code, out, _ = cli("--json")
    items = json.loads(out)
    assert [(i["resource"], i["key"], i["state"], i["attempts"]) for i in items] == [
        ("cycles", "id=93846", "new", 1),
        ("measures", "grpid=61", "new", 1),
    ]
    assert items[0]["first_seen_at"] == items[0]["last_seen_at"] == SEEN.isoformat()


def test_show_prints_the_payload_as_sent(held, cli):
    code, out, _ = cli("show", str(held["measures"]))
    item = json.loads(out)
    assert code == 0 and (item["key"], item["user_id"], item["timezone"]) == ("grpid=61", 5, "Europe/Rome")
    assert item["payload"]["measures"][0]["value"] == 80_500.5
    code, _out, err = cli("show", "999")
    assert code == 1 and "no quarantine item 999" in err


def test_acknowledged_items_stay_listed_and_come_back_when_they_change(held, session, cli):
    code, out, err = cli("ack", str(held["cycles"]))
    assert (code, out.strip(), err) == (0, f"1 item acknowledged ({held['cycles']})", "")
    states = {i["resource"]: i["state"] for i in json.loads(cli("--json")[1])}
    assert states == {"cycles": "acknowledged", "measures": "new"}
    assert {(q["resource"], q["new"], q["acknowledged"]) for q in quarantine.summary(session)} == {
        ("cycles", 0, 1),
        ("measures", 1, 0),
    }
    same = f.cycle(1) | {"start": "1970-01-01T00:00:00.000Z"}  # the next run's retry: same reason, same payload
    quarantine.quarantine_records(
        session,
        "whoop",
        "cycles",
        key_field="id",
        rejected=[quarantine.Rejected(same, "start out of bounds")],
        now=SEEN + timedelta(days=1),
    )
    session.commit()
    assert json.loads(cli("--json")[1])[0]["state"] == "acknowledged"
    quarantine.quarantine_records(
        session,
        "whoop",
        "cycles",
        key_field="id",  # a new release names another reason
        rejected=[quarantine.Rejected(same, "start before 2010-01-01")],
        now=SEEN + timedelta(days=2),
    )
    session.commit()
    assert json.loads(cli("--json")[1])[0]["state"] == "new"
    assert cli("ack", "--all")[1].strip() == f"2 items acknowledged ({held['cycles']}, {held['measures']})"
    assert cli("ack")[0] == 2  # neither ids nor --all


def test_dismissed_items_are_kept_but_not_listed_counted_or_retried(held, session, cli):
    code, out, _ = cli("dismiss", str(held["cycles"]))
    assert (code, out.strip()) == (0, f"1 item dismissed ({held['cycles']})")
    assert [i["resource"] for i in json.loads(cli("--json")[1])] == ["measures"]
    assert [i["state"] for i in json.loads(cli("--all", "--json")[1])] == ["dismissed", "new"]
    assert [q["resource"] for q in quarantine.summary(session)] == ["measures"]
    assert quarantine.entries(session, "whoop", "cycles") == []
    assert cli("retry", str(held["cycles"]))[0] == 1
    code, _out, err = cli("dismiss", str(held["cycles"]))
    assert code == 1 and "already dismissed" in err
    assert session.scalar(select(func.count()).select_from(Quarantine)) == 2  # nothing is deleted


def test_retry_stores_what_this_release_can_read_and_says_so(held, session, cli):
    # An older release refused a cycle this one reads: held as it would have been.
    readable = f.cycle(4)
    quarantine.quarantine_records(
        session, "whoop", "cycles", key_field="id", rejected=[quarantine.Rejected(readable, "unknown field")], now=SEEN
    )
    session.commit()
    code, out, _ = cli("retry", "--resource", "cycles")
    assert code == 0
    assert out.strip() == "whoop cycles: 1 of 2 stored now, 1 still quarantined"
    assert session.scalars(select(Cycle.whoop_id)).all() == [readable["id"]]
    assert [q.record_key for q in session.scalars(select(Quarantine).order_by(Quarantine.id))] == [
        "id=93846",
        "grpid=61",
    ]
    code, out, _ = cli("retry")
    assert out.splitlines() == [
        "whoop cycles: 0 of 1 stored now, 1 still quarantined",
        "withings measures: 0 of 1 stored now, 1 still quarantined",
    ]
    assert cli("retry", "--resource", "nope")[0] == 2


def test_an_empty_quarantine_says_so(db_url, monkeypatch, cli):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert cli()[1].strip() == "The quarantine is empty: every record the APIs sent was stored."
    assert cli("retry")[1].strip() == "nothing to retry: no item waits in the quarantine"


def test_the_run_retries_only_what_is_not_dismissed(held, session):
    quarantine.dismiss(session, [held["measures"]], now=SEEN)
    session.commit()
    measures = dataclasses.replace(resources.get("withings", "measures"), mapper=lambda *a, **k: pytest.fail("retried"))
    counts = db_loader.retry_quarantine(session, measures)
    assert counts.recovered == 0
