"""A rescore sends `sleep.updated` and `recovery.updated` for one sleep together: processed in one
batch they read that sleep once; in batches apart each reads it afresh (nothing is kept longer)."""

from __future__ import annotations

import models
from sync.events import Processor
from tests.webhooks.conftest import stored
from tests.webhooks.test_event_processing import world  # noqa: F401 - the fixture
from tests.webhooks.test_receiver_with_sandbox_deliveries import admin, settle


def _rescore(world) -> tuple[int, str]:  # noqa: F811
    cycle_id = admin(world.sb, "rescore")["cycle_id"]
    settle(world.sb)
    sleep_id = world.sb.history_of().collections["recovery"].get(cycle_id)["sleep_id"]
    types = {row.event_type for row in stored(world.engine) if row.object_id == sleep_id}
    assert types == {"sleep.updated", "recovery.updated"}
    world.sb.app.clear_requests()
    return cycle_id, sleep_id


def _reads(world, path: str) -> int:  # noqa: F811
    return sum(1 for p in world.fetched() if p == path)


def test_one_batch_reads_the_sleep_once_and_stores_both(world):  # noqa: F811
    cycle_id, sleep_id = _rescore(world)
    done = world.process()
    assert done and {d.outcome for d in done} == {"stored"}
    assert _reads(world, f"/developer/v2/activity/sleep/{sleep_id}") == 1
    assert _reads(world, f"/developer/v2/cycle/{cycle_id}/recovery") == 1
    recovery = world.sb.history_of().collections["recovery"].get(cycle_id)
    (row,) = world.rows(models.recovery, whoop_cycle_id=cycle_id)
    assert row.recovery_score == recovery["score"]["recovery_score"] and world.rows(models.sleep, whoop_id=sleep_id)


def test_batches_apart_each_read_the_sleep_afresh(world):  # noqa: F811
    cycle_id, sleep_id = _rescore(world)
    processor = Processor(world.settings, world.engine, batch=1)
    batches = []
    while batch := processor.process_due():
        batches.append([d.outcome for d in batch])
    assert batches == [["stored"]] * len(stored(world.engine))  # one event a batch, as asked
    assert _reads(world, f"/developer/v2/activity/sleep/{sleep_id}") == 2
