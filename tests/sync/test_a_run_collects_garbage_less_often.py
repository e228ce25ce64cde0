"""While a run loads pages, the collector's young generation runs every RUN_GC_THRESHOLD
allocations rather than every 700; the process's own setting is back once the run ends."""

from __future__ import annotations

import gc

from sync import runner
from tests.helpers.etl import run_etl


def test_pages_load_with_fewer_collections_and_the_setting_comes_back(etl_env, db_url, monkeypatch):
    seen = []
    real = runner.load_page

    def spy(session, resource, page, user_id, *args, **kwargs):
        seen.append(gc.get_threshold())
        return real(session, resource, page, user_id, *args, **kwargs)

    monkeypatch.setattr(runner, "load_page", spy)
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    try:
        code, _summary, err = run_etl()
        assert code == 0, err
        assert seen and all(threshold[0] == runner.RUN_GC_THRESHOLD for threshold in seen)
        assert gc.get_threshold() == (700, *before[1:])
    finally:
        gc.set_threshold(*before)


def test_overlapping_runs_give_the_setting_back_when_the_last_one_ends():
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    try:
        collections = runner._FewerCollections()  # the runner's is one for the process
        collections.__enter__()  # an account's run starts
        collections.__enter__()  # another account's run starts meanwhile
        collections.__exit__(None, None, None)  # the first one ends: the other still loads
        assert gc.get_threshold()[0] == runner.RUN_GC_THRESHOLD
        collections.__exit__(None, None, None)
        assert gc.get_threshold() == (700, *before[1:])
    finally:
        gc.set_threshold(*before)
