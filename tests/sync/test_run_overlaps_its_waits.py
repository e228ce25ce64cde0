"""A routine run waits on the network once: the Withings listing by date goes out with the pages,
and the quarantine retry costs one query when nothing is held, without reordering any write."""

from __future__ import annotations

import copy
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Quarantine, WithingsWeight, Workout
from storage import quarantine
from storage.engine import make_engine
from sync import runner
from tests.helpers.etl import by_resource, run_etl

HANG_GUARD_SECONDS = 20  # only ends a wait that would otherwise never end; no time is asserted


def _intercept(sandbox, before=None, after=None):
    """Call `before(request)` before the sandbox answers each API request, `after(request)` once it has."""
    dispatch = sandbox.app.dispatch

    def intercepted(request):
        if before:
            before(request)
        response = dispatch(request)
        if after:
            after(request)
        return response

    sandbox.app.dispatch = intercepted


def _is_getmeas(request, by_update: bool) -> bool:
    return request.path == "/measure" and ("lastupdate" in request.params) == by_update


def test_the_listing_by_date_is_asked_while_the_lastupdate_read_is_unanswered(etl_env, db_url):
    assert run_etl()[0] == 0
    listing_asked, waited = threading.Event(), []

    def hold_the_read_until_the_listing_is_asked(request):
        if _is_getmeas(request, by_update=True):
            waited.append(listing_asked.wait(HANG_GUARD_SECONDS))
        elif _is_getmeas(request, by_update=False):
            listing_asked.set()

    _intercept(etl_env, before=hold_the_read_until_the_listing_is_asked)
    code, summary, err = run_etl()
    assert code == 0, err
    assert waited == [True]  # one after the other, the listing would only be asked after the answer
    assert by_resource(summary)["measures"]["deleted"] == 0


def test_a_weigh_in_that_arrives_between_the_two_reads_is_stored_and_not_marked_deleted(etl_env, db_url):
    assert run_etl()[0] == 0
    listing_answered, added = threading.Event(), []

    def weigh_in_after_the_listing(request):
        if _is_getmeas(request, by_update=True):
            listing_answered.wait(HANG_GUARD_SECONDS)
            added.append(etl_env.add_weigh_in(88.8))

    def listing_answered_now(request):
        if _is_getmeas(request, by_update=False):
            listing_answered.set()

    _intercept(etl_env, before=weigh_in_after_the_listing, after=listing_answered_now)
    code, summary, err = run_etl()
    assert code == 0, err
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            row = session.scalars(select(WithingsWeight).where(WithingsWeight.grpid == added[0])).one()
            assert row.weight_kg == 88.8 and row.deleted_at is None
    finally:
        engine.dispose()


def _spy_on_retries(monkeypatch) -> list:
    calls = []
    real = runner.retry_quarantine

    def spy(session, resource, ids=None, user_id=None):
        calls.append(resource.key)
        return real(session, resource, ids, user_id=user_id)

    monkeypatch.setattr(runner, "retry_quarantine", spy)
    return calls


def test_an_empty_quarantine_retries_nothing_and_a_held_record_yields_to_the_fresh_page(etl_env, db_url, monkeypatch):
    retried = _spy_on_retries(monkeypatch)
    assert run_etl()[0] == 0
    assert retried == []
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            newest = session.scalars(
                select(Workout).where(Workout.strain.is_not(None)).order_by(Workout.start.desc()).limit(1)
            ).one()
            current, user_id, whoop_id = newest.strain, newest.user_id, newest.whoop_id
            older = copy.deepcopy(newest.raw)  # as an older release rejected it, before an edit
            older["score"]["strain"] = round(current / 2, 4)
            quarantine.quarantine_records(
                session,
                "whoop",
                "workout",
                key_field="id",
                rejected=[quarantine.Rejected(older, "an older release could not read it")],
                user_id=user_id,
            )
            session.commit()
        code, summary, err = run_etl()
        assert code == 0, err
        assert retried == [("whoop", "workout")]
        with Session(engine) as session:
            stored = session.scalars(select(Workout).where(Workout.whoop_id == whoop_id)).one()
            assert stored.strain == current  # the page's record was written after the retried one
            assert session.scalars(select(Quarantine)).all() == []
    finally:
        engine.dispose()


def test_the_fetch_threads_send_their_first_requests_without_a_transaction_of_their_own(etl_env, db_url, monkeypatch):
    # The run plans with the token, the rate another process heard and (SQLite) the first block
    # of request slots, so a fetch thread's first request waits for no lock. On PostgreSQL each
    # request takes its own slot, one statement: that is all a thread sends before it.
    import requests
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    assert run_etl()[0] == 0
    before_first_send: dict[str, list[str]] = {}
    sent: set[str] = set()
    guard = threading.Lock()

    def statement(conn, cursor, sql, parameters, context, executemany):
        name = threading.current_thread().name
        with guard:
            if name.startswith(("fetch-", "list-")) and name not in sent:
                before_first_send.setdefault(name, []).append(" ".join(sql.split()[:3]))

    send = requests.Session.send

    def first_send(session, request, **kwargs):
        with guard:
            sent.add(threading.current_thread().name)
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", first_send)
    event.listen(Engine, "before_cursor_execute", statement)
    try:
        code, _summary, err = run_etl("--since", "7d")
    finally:
        event.remove(Engine, "before_cursor_execute", statement)
    assert code == 0, err
    assert {name for name in sent if name.startswith("fetch-")} >= {"fetch-cycles", "fetch-measures"}
    if db_url.startswith("sqlite"):
        assert before_first_send == {}
    else:
        statements = {sql for sqls in before_first_send.values() for sql in sqls}
        assert statements <= {"SET LOCAL synchronous_commit", "INSERT INTO rate_budget"}, statements
