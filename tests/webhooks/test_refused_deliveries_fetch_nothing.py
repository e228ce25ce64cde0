"""What the receiver refuses reaches no processor: after bad signatures, stale timestamps, a wrong
Withings secret and oversized bodies, processing finds nothing due and asks neither API anything."""

from __future__ import annotations

import requests

from tests.webhooks.conftest import PATH_SECRET, WHOOP_USER, stored
from tests.webhooks.test_event_processing import world  # noqa: F401 - the fixture
from tests.webhooks.test_receiver_with_sandbox_deliveries import admin, settle, signed


def test_refused_deliveries_store_nothing_and_fetch_nothing(world):  # noqa: F811
    push = world.sb.push
    push.add_fault("bad_signature", times=1000, provider="whoop")
    admin(world.sb, "rescore")
    assert {entry["status"] for entry in settle(world.sb)} == {401}
    push.add_fault("stale_timestamp", times=1000, provider="whoop")
    admin(world.sb, "rescore")
    push.configure(withings_url=f"{world.url}/webhooks/withings/{PATH_SECRET[:-1]}B")
    admin(world.sb, "weigh-in", kg=70.1)
    refused = [entry for entry in settle(world.sb) if entry["status"] != 401]
    assert refused and {entry["status"] for entry in refused} == {404}
    body, headers = signed({"user_id": WHOOP_USER, "id": "a", "type": "sleep.updated", "trace_id": "t-huge"})
    huge = body[:-1] + b', "pad": "' + b"a" * (65 * 1024) + b'"}'
    assert requests.post(f"{world.url}/webhooks/whoop", data=huge, headers=headers, timeout=10).status_code == 413
    world.sb.app.clear_requests()
    assert stored(world.engine) == []
    assert world.process() == [] and world.fetched("whoop") == [] and world.fetched("withings") == []
