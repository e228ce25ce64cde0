"""Plan a run: per configured provider a client and its user, per declared resource a window."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from api_clients.errors import NotConnected, reconnect_command
from configuration.accounts import DEFAULT_ACCOUNT
from configuration.settings import ProviderSettings, Settings
from storage.devices import stored_devices
from storage.sync_state import NO_DEVICE, record_no_device, stored_states
from sync import resources
from sync.budget import DbBudget, db_budget
from sync.runner import Job

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def ensure_token(store, provider: ProviderSettings) -> None:
    """Seed the store from WHOOP_/WITHINGS_REFRESH_TOKEN once; later the rotated token is used.

    The setting is one person's token: it seeds the `default` account only, never another."""
    from api_clients.oauth import Token

    if store.load(provider.name) is not None:
        return
    account = getattr(store, "account", DEFAULT_ACCOUNT)
    if not provider.seed_refresh_token or account != DEFAULT_ACCOUNT:
        if account != DEFAULT_ACCOUNT:
            raise NotConnected(
                f"{provider.name} is not connected for account {account!r}: "
                f"run `{reconnect_command(provider.name)} --account {account}`"
            )
        raise NotConnected(
            f"{provider.name} is not connected: run `{reconnect_command(provider.name)}` "
            f"(or set {provider.name.upper()}_REFRESH_TOKEN for a headless setup)"
        )
    with store.refresh_lock(provider.name):
        if store.load(provider.name) is None:
            # An already-expired, empty access token: the client refreshes before its first call.
            store.save(
                provider.name,
                Token(
                    access_token="",
                    refresh_token=provider.seed_refresh_token,
                    expires_at=EPOCH,
                    scope=None,
                    user_id=None,
                ),
            )
            log.info("%s: seeded from the %s_REFRESH_TOKEN setting", provider.name, provider.name.upper())


def open_client(settings: Settings, store, source: str, engine: Engine | None = None):
    """The API client of `source` and the user it syncs (one client per provider per run).

    With `engine`, the client takes its requests from the budget every process using that
    database shares (sync/budget.py); DailyBudgetReached when WHOOP's day is spent already.
    """
    from api_clients.providers import make_client

    provider = getattr(settings, source)
    ensure_token(store, provider)
    budget = None if engine is None else db_budget(engine, provider, resources.SOURCE_LABELS[source])
    client = make_client(
        provider, store, timeout=settings.http_timeout, max_wait=settings.rate_limit_max_wait, budget=budget
    )
    return client, client.current_user_id()


def source_jobs(
    settings: Settings, engine: Engine, store, source: str, *, now: datetime, since: datetime | None, full: bool
) -> list[Job]:
    """One job per declared resource of `source`, all sharing one client (and its rate limiter)."""
    client, user_id = open_client(settings, store, source, engine)
    jobs = resource_jobs(
        engine,
        client,
        user_id,
        resources.of_source(source),
        now=now,
        lookback=timedelta(days=settings.lookback_days),
        since=since,
        full=full,
    )
    http = getattr(client, "http", None)
    if isinstance(getattr(http, "budget", None), DbBudget):  # last: what it reserves goes back when the jobs end
        http.budget.prepare(http.limiter.per_minute, routine=any(not job.backfill for job in jobs))
    return jobs


def resource_jobs(
    engine: Engine,
    client,
    user_id: int,
    declared,
    *,
    now: datetime,
    lookback: timedelta,
    since: datetime | None = None,
    full: bool = False,
) -> list[Job]:
    """A job per resource in `declared`, its window from sync_state; `watch` reuses its clients.

    Left out: a resource none of the account's stored devices can produce (noted once, see
    `_note_no_device`), and one read less than its `read_every` ago (unless `--full`/`--since`)."""
    with engine.connect() as conn:
        stored = {source: stored_states(conn, source, user_id) for source in {r.source for r in declared}}
        linked = stored_devices(conn, user_id) if any(r.devices for r in declared) else []
        jobs, skipped = [], []
        for resource in declared:
            state = stored[resource.source].get(resource.name)
            if not resource.can_produce(linked):
                skipped.append((resource, state))
                continue
            if _read_recently(resource, state, now) and since is None and not full:
                continue
            window = resource.window(state, now=now, lookback=lookback, since=since, full=full)
            jobs.append(Job(resource, user_id, window, client, known=resource.stored(conn, user_id, window)))
    for resource, state in skipped:
        _note_no_device(engine, resource, user_id, state, now)
    return jobs


def _read_recently(resource, state, now: datetime) -> bool:
    success = state.last_success_at if state is not None else None
    if resource.read_every is None or success is None:
        return False
    if success.tzinfo is None:  # SQLite hands back naive UTC
        success = success.replace(tzinfo=timezone.utc)
    return now - success < resource.read_every


def _note_no_device(engine: Engine, resource, user_id: int, state, now: datetime) -> None:
    """Say once (the first run that finds it) that a resource is not read, and keep it fresh in
    `status`: its sync_state holds status "no_device" and the reason."""
    reason = (
        f"not read: none of the account's Withings devices records {resource.what} "
        f"({', '.join(resource.devices)}); it is read again once one is linked"
    )
    if state is None or state.status != NO_DEVICE:
        log.info("%s %s: %s", resource.source, resource.name, reason)
    with engine.begin() as conn:
        record_no_device(conn, resource.source, resource.name, user_id, reason, now)
