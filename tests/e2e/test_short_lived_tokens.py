"""Full ETL runs against the sandbox with 1-second access tokens and rotation: a token that expires
mid-run is refreshed."""

from __future__ import annotations

from tests.helpers.etl import run_etl


def _data_requests(sandbox) -> int:
    return len([r for r in sandbox.requests if r["path"].startswith("/developer/v2/") or r["path"] == "/measure"])


def test_three_runs_with_one_second_tokens_exit_0_without_a_refresh_storm(etl_env):
    etl_env.set_access_ttl(1)  # every token dies within the run; WHOOP kills the old one on each refresh
    etl_env.app.faults.latency_ms = 400  # each run spans several token lifetimes
    codes = []
    for _ in range(3):
        code, summary, err = run_etl()
        codes.append((code, err))
    assert [c for c, _ in codes] == [0, 0, 0], codes
    refreshes = {p: etl_env.refresh_count(p) for p in ("whoop", "withings")}
    requests = _data_requests(etl_env)
    print(f"refreshes {refreshes}, data requests {requests}")
    # No storm: about one refresh per token lifetime, never one per request.
    assert 3 <= refreshes["whoop"] <= min(10, requests // 2), (refreshes, requests)
    withings = len(
        [r for r in etl_env.requests if r["path"] in ("/measure", "/v2/measure", "/v2/sleep", "/v2/heart", "/v2/user")]
    )
    assert 3 <= refreshes["withings"] <= min(10, withings // 2), (refreshes, withings)
