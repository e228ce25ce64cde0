"""Pages of one resource already queued behind each other are loaded in one transaction, and load
exactly as they would one by one: the same rows, counts, pages and sync state."""

from __future__ import annotations

import queue
import threading
from collections import deque

from api_clients.pages import Page
from sync import resources, runner
from sync.resources import RESOURCES
from tests.helpers import factories as f
from tests.helpers.etl import by_resource, run_etl, sync_states, table_counts

HANG_GUARD_SECONDS = 20  # only ends a wait that would otherwise never end; no time is asserted
CYCLES = resources.get("whoop", "cycles")
SLEEP = resources.get("whoop", "sleep")


def _hold_the_writer_until_every_page_is_queued(monkeypatch) -> list:
    """The writer starts once every fetcher has queued its pages; returns the pages of each load."""
    real_retry, real_load = runner.Runner._retry_quarantined, runner.load_page
    loads: list[tuple[str, int]] = []

    def wait_for_the_fetchers(self, jobs, results):
        for thread in threading.enumerate():
            if thread.name.startswith("fetch-"):
                thread.join(HANG_GUARD_SECONDS)
        return real_retry(self, jobs, results)

    def counted(session, resource, page, user_id, *args, **kwargs):
        loads.append((resource.name, len(page.records)))
        return real_load(session, resource, page, user_id, *args, **kwargs)

    monkeypatch.setattr(runner.Runner, "_retry_quarantined", wait_for_the_fetchers)
    monkeypatch.setattr(runner, "load_page", counted)
    return loads


def test_a_first_load_with_its_pages_queued_stores_everything_in_fewer_transactions(etl_env, db_url, monkeypatch):
    loads = _hold_the_writer_until_every_page_is_queued(monkeypatch)
    code, summary, err = run_etl()
    assert code == 0, err
    results = by_resource(summary)
    # The WHOOP profile's path is also where the client learns its user id: not a data request.
    data_paths = {r.path for r in RESOURCES if r.name != "profile"}
    results.pop("profile")
    # An ECG signal (Heart v2 `get`) belongs to its recording's page, not a page of its own.
    requests = [
        r
        for r in etl_env.requests
        if r["path"] in data_paths and (r["path"], r["form"].get("action")) != ("/v2/heart", "get")
    ]
    # `pages` still counts the API's pages: one per data request of a first load.
    assert sum(r["pages"] for r in results.values()) == len(requests)
    assert len(loads) < len(requests)  # several pages of a resource went into one load
    counts = table_counts(db_url)
    for name in ("cycles", "sleep", "recovery", "workout"):
        result = results[name]
        assert result["status"] == "ok"
        assert result["fetched"] == result["inserted"] == counts[name] > 0, name
        assert result["updated"] == result["unchanged"] == result["rejected"] == 0, name
        assert sum(n for resource, n in loads if resource == name) == result["fetched"], name
    states = sync_states(db_url)
    assert all(states[r.name].status == "ok" for r in RESOURCES)

    code, again, err = run_etl()  # and a second run finds every row as the grouped load left it
    assert code == 0, err
    for name in ("cycles", "sleep", "recovery", "workout"):
        assert by_resource(again)[name]["inserted"] == by_resource(again)[name]["updated"] == 0, name


def _queue(*items) -> queue.Queue:
    out: queue.Queue = queue.Queue()
    for item in items:
        out.put(item)
    return out


def _page(*numbers: int, timezone: str | None = None) -> Page:
    return Page(records=[f.cycle(n) for n in numbers], timezone=timezone)


def test_queued_pages_of_the_same_resource_are_grouped_in_order_and_others_keep_theirs():
    first, second, last = _page(1, 2), _page(3, 4), _page(5)
    last.updatetime, last.listing = 99, {1, 2, 3, 4, 5}
    sleep_page = Page(records=[f.sleep(1)])
    out = _queue(
        ("page", SLEEP.key, sleep_page, False),
        ("page", CYCLES.key, second, False),
        ("error", SLEEP.key, RuntimeError("lost"), True),
        ("page", CYCLES.key, last, True),
    )
    backlog: deque = deque()
    page, is_last, pages = runner._group(out, backlog, CYCLES, first, False)
    assert (is_last, pages) == (True, 3)
    assert [r["id"] - f.cycle(0)["id"] for r in page.records] == [1, 2, 3, 4, 5]
    assert (page.updatetime, page.listing) == (99, {1, 2, 3, 4, 5})  # what the last page carried
    assert [item[0] for item in backlog] == ["page", "error"]  # the other resource's, in order
    assert backlog[0][2] is sleep_page


def test_a_page_that_would_not_load_as_it_does_alone_is_not_grouped():
    repeated = _page(2, 3)  # record 2 again: counted and quarantined differently in one batch
    unreadable = Page(records=[{**f.cycle(7), "id": "not a number"}])
    other_zone = _page(8, timezone="Europe/Berlin")
    for candidate in (repeated, unreadable, other_zone):
        out = _queue(("page", CYCLES.key, candidate, False), ("page", CYCLES.key, _page(9), True))
        backlog: deque = deque()
        page, is_last, pages = runner._group(out, backlog, CYCLES, _page(1, 2), False)
        assert (len(page.records), is_last, pages) == (2, False, 1)
        assert [item[2] for item in backlog][0] is candidate  # next, on its own


def test_grouping_stops_at_a_failure_of_the_resource_and_at_one_batch_of_records(monkeypatch):
    out = _queue(("error", CYCLES.key, RuntimeError("lost"), True), ("page", CYCLES.key, _page(3), True))
    backlog: deque = deque()
    assert runner._group(out, backlog, CYCLES, _page(1), False)[1:] == (False, 1)
    assert len(backlog) == 2

    monkeypatch.setattr(runner, "GROUP_RECORDS", 4)
    out = _queue(*(("page", CYCLES.key, _page(2 * n, 2 * n + 1), False) for n in range(1, 4)))
    backlog = deque()
    page, is_last, pages = runner._group(out, backlog, CYCLES, _page(0, 1), False)
    assert (len(page.records), pages, len(backlog)) == (4, 2, 2)


def test_the_last_page_is_never_grouped_with_what_follows_it():
    out = _queue(("page", CYCLES.key, _page(3), False))
    page, is_last, pages = runner._group(out, deque(), CYCLES, _page(1, 2), True)
    assert (len(page.records), is_last, pages) == (2, True, 1)
