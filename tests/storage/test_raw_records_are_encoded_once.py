"""A record's `raw` is encoded to JSON once, by its mapper's storability check, and the database
holds the same record: read back equal (non-ASCII text included), and loading it again finds it
unchanged."""

from __future__ import annotations

import json

from sqlalchemy import select

from models import Cycle, WithingsWeight
from tests.helpers import factories as f
from tests.helpers import loaders


def _spy_on_json_dumps(monkeypatch) -> list:
    encoded = []
    real = json.dumps

    def counted(value, *args, **kwargs):
        encoded.append(value)
        return real(value, *args, **kwargs)

    monkeypatch.setattr(json, "dumps", counted)
    return encoded


def test_each_record_is_encoded_once_and_reads_back_as_sent(session, monkeypatch):
    records = [{**f.cycle(n), "note": "Café ☃ über"} for n in range(5)]
    encoded = _spy_on_json_dumps(monkeypatch)
    counts = loaders.load_cycles(session, records)
    session.commit()
    assert counts.inserted == 5
    assert len(encoded) == len(records)  # the storability check's text is what the INSERT sent
    stored = {row.whoop_id: row.raw for row in session.scalars(select(Cycle))}
    assert stored == {r["id"]: r for r in records}

    encoded.clear()
    again = loaders.load_cycles(session, records)
    assert (again.unchanged, again.inserted, again.updated) == (5, 0, 0)


def test_a_withings_group_is_encoded_once_for_its_typed_row(session, monkeypatch):
    group = f.weight_group(1001, day=1)
    encoded = _spy_on_json_dumps(monkeypatch)
    counts = loaders.load_withings_measures(session, [group], user_id=3141592, timezone="Europe/Berlin")
    session.commit()
    assert counts.inserted == 1
    assert sum(1 for value in encoded if value == group) == 1
    assert session.scalars(select(WithingsWeight.raw)).one() == group
