"""Two processes loading the same records at once: no duplicates, no crash (both dialects)."""

from __future__ import annotations

import multiprocessing as mp

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Cycle, Recovery, WithingsWeight
from tests.helpers import loaders


def _worker(url: str, start_event, result_queue) -> None:
    from storage.engine import make_engine
    from tests.helpers import factories as f

    engine = make_engine(url)
    start_event.wait(10)
    try:
        with Session(engine) as session:
            c = loaders.load_cycles(session, [f.cycle(i) for i in range(300)], batch_size=50)
            r = loaders.load_recovery(session, [f.recovery(i) for i in range(300)], batch_size=50)
            w = loaders.load_withings_measures(session, [f.weight_group(i, day=i) for i in range(300)], 1)
            session.commit()
        result_queue.put(("ok", c.rejected + r.rejected + w.rejected))
    except Exception as exc:
        result_queue.put(("error", repr(exc)))
    finally:
        engine.dispose()


def test_two_processes_loading_the_same_records(db_url):
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(db_url, start, results)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert outcomes == [("ok", 0), ("ok", 0)]
    from storage.engine import make_engine

    engine = make_engine(db_url)
    with Session(engine) as session:
        for model in (Cycle, Recovery, WithingsWeight):
            assert session.scalar(select(func.count()).select_from(model)) == 300
    engine.dispose()
