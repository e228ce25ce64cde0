"""The push demo (`./scripts/demo.sh --push`) end to end in a temporary directory: the sandbox
pushes to a real `serve`, and the weigh-in and the rescore arrive as rows without a poll."""

from __future__ import annotations

import sqlite3

import pytest

from scripts import demo_push


def test_the_push_demo_brings_a_weigh_in_and_a_rescore_into_the_database(tmp_path):
    database = tmp_path / "demo.db"
    said: list[str] = []
    arrived = demo_push.walkthrough(database, tmp_path, days=20, say=said.append, echo=lambda _line: None)
    assert arrived["weight_kg"] == pytest.approx(72.4)
    assert arrived["recovery_before"] is not None and arrived["recovery_score"] != arrived["recovery_before"]
    with sqlite3.connect(database) as conn:
        events = conn.execute("SELECT provider, outcome FROM inbound_event ORDER BY id").fetchall()
    assert {"withings", "whoop"} == {provider for provider, _ in events}
    assert {outcome for _, outcome in events} == {"stored"}
    assert any(line.startswith("Arrived in") for line in said) and said[-1] == "Stopped serve and the sandbox"
