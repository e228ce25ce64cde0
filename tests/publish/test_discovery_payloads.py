"""Home Assistant's discovery payloads, pure: ids from the install and the account, units and classes
from the catalog, no secret in any payload, and a withdrawal that empties every topic a device may hold."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from configuration.logs import register_secret
from publish import discovery
from publish.snapshot import AccountSnapshot
from readers import metrics

TOPICS = discovery.Topics("homeassistant", "whoop-etl", "0123456789ab")
AT = datetime(2025, 3, 9, 17, 30, tzinfo=timezone.utc)


def _snapshot(values: dict, problems: list[str]) -> AccountSnapshot:
    return AccountSnapshot(
        account="alice",
        providers=["whoop", "withings"],
        values={
            name: {"value": value, "attributes": {"measured_at": AT, "local_day": "2025-03-09"}}
            for name, value in values.items()
        },
        problem={"state": "ON" if problems else "OFF", "attributes": {"problems": problems}},
    )


def test_each_sensor_has_a_stable_id_its_unit_and_class():
    messages = {m.topic: m for m in discovery.account_messages(TOPICS, _snapshot({"weight": 79.4, "strain": 12.1}, []))}
    weight = json.loads(messages["homeassistant/sensor/whoop_etl_0123456789ab_alice/weight/config"].payload)
    assert weight["unique_id"] == "whoop_etl_0123456789ab_alice_weight"
    assert (weight["unit_of_measurement"], weight["device_class"], weight["state_class"]) == (
        "kg",
        "weight",
        "measurement",
    )
    assert weight["device"]["identifiers"] == ["whoop_etl_0123456789ab_alice"]
    assert weight["device"]["name"] == "whoop-etl alice" and weight["device"]["model"] == "WHOOP + Withings"
    strain = json.loads(messages["homeassistant/sensor/whoop_etl_0123456789ab_alice/strain/config"].payload)
    assert "unit_of_measurement" not in strain and "device_class" not in strain  # a scale, not a unit
    state = json.loads(messages["whoop-etl/0123456789ab/alice/weight"].payload)
    assert state == {
        "value": 79.4,
        "attributes": {"measured_at": "2025-03-09T17:30:00+00:00", "local_day": "2025-03-09"},
    }
    problem = json.loads(messages["homeassistant/binary_sensor/whoop_etl_0123456789ab_alice/problem/config"].payload)
    assert (problem["device_class"], problem["payload_on"], problem["payload_off"]) == ("problem", "ON", "OFF")
    assert all(m.retain for m in messages.values())


def test_a_secret_that_reaches_a_problem_line_is_masked_in_the_payload():
    register_secret("refresh-token-abcdef123")
    messages = discovery.account_messages(TOPICS, _snapshot({}, ["whoop: refused refresh-token-abcdef123"]))
    assert not [m for m in messages if "refresh-token-abcdef123" in m.payload]


def test_a_withdrawal_empties_every_topic_a_device_may_hold():
    everything = _snapshot({m.name: 1.0 for m in metrics.METRICS}, [])
    published = {m.topic for m in discovery.account_messages(TOPICS, everything)}
    published |= {m.topic for m in discovery.in_bed_messages(TOPICS, "alice", ["withings"], True, "2026-01-01")}
    withdrawn = discovery.withdrawal(TOPICS, "alice")
    assert {m.topic for m in withdrawn} == published and all(m.payload == "" and m.retain for m in withdrawn)
