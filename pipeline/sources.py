"""Build the run's jobs: a client per configured source, a window per resource from sync_state."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import db_loader
from pipeline.runner import FetchedPage, Job, ResourceResult
from pipeline.windows import WHOOP_RESOURCES, WITHINGS_RESOURCE, Window, whoop_window, withings_window
from settings import ProviderSettings, Settings
from sync_state import get_sync_state

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class NotConnected(RuntimeError):
    """A configured provider without a stored token or a seed refresh token."""


@dataclass
class Plan:
    """What this run will do: jobs to run, sources skipped, sources that failed before fetching."""

    jobs: list[Job] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[ResourceResult] = field(default_factory=list)


def reconnect_command(provider: str) -> str:
    return f"python etl.py connect {provider}"


def ensure_token(store, provider: ProviderSettings) -> None:
    """Seed the store from WHOOP_/WITHINGS_REFRESH_TOKEN once; later the rotated token is used."""
    from api_clients.oauth import Token

    if store.load(provider.name) is not None:
        return
    if not provider.seed_refresh_token:
        raise NotConnected(
            f"{provider.name} is not connected: run `{reconnect_command(provider.name)}` "
            f"(or set {provider.name.upper()}_REFRESH_TOKEN for a headless setup)"
        )
    with store.refresh_lock(provider.name):
        if store.load(provider.name) is None:
            # An already-expired, empty access token: the client refreshes before its first call.
            store.save(provider.name, Token(access_token="", refresh_token=provider.seed_refresh_token,
                                            expires_at=EPOCH, scope=None, user_id=None))
            log.info("%s: seeded from the %s_REFRESH_TOKEN setting", provider.name, provider.name.upper())


def whoop_user_id(client, store) -> int:
    """The WHOOP user id: stored with the token, else one profile call (then stored)."""
    token = store.load("whoop")
    if token is not None and token.user_id:
        return token.user_id
    user_id = int(client.get_profile()["user_id"])
    with store.refresh_lock("whoop"):
        current = store.load("whoop")
        if current is not None:
            current.user_id = user_id
            store.save("whoop", current)
    return user_id


def _state(engine: Engine, source: str, resource: str, user_id: int):
    with Session(engine) as session:
        state = get_sync_state(session, source, resource, user_id)
        if state is not None:
            session.expunge(state)
        return state


def _whoop_fetch(client, resource: str, window: Window):
    def fetch() -> Iterator[FetchedPage]:
        # No `end`: the API defaults it to its own "now" (api_facts.md §1.3), so a record stamped a
        # moment after our clock is not cut off; window.end is recorded as the sync point.
        for records in client.iter_pages(resource, start=window.start):
            yield FetchedPage(records=records)
    return fetch


def _whoop_load(resource: str):
    loader = db_loader.LOADERS[resource]
    return lambda session, page: loader(session, page.records)


def whoop_jobs(settings: Settings, engine: Engine, store, *, now: datetime, since, full: bool,
               timeout: float) -> list[Job]:
    """One job per WHOOP collection, all sharing one client (and its rate limiter)."""
    from api_clients.whoop import WhoopClient

    ensure_token(store, settings.whoop)
    client = WhoopClient(settings.whoop, store, timeout=timeout)
    user_id = whoop_user_id(client, store)
    lookback = timedelta(days=settings.lookback_days)
    jobs = []
    for resource in WHOOP_RESOURCES:
        state = _state(engine, "whoop", resource, user_id)
        window = whoop_window(state, now=now, lookback=lookback, since=since, full=full)
        jobs.append(Job("whoop", resource, user_id, window, _whoop_fetch(client, resource, window),
                        _whoop_load(resource)))
    return jobs


def withings_jobs(settings: Settings, engine: Engine, store, *, now: datetime, since, full: bool,
                  timeout: float) -> list[Job]:
    """The Withings getmeas job (weight, body composition, blood pressure, heart rate)."""
    from api_clients.withings import WithingsClient

    ensure_token(store, settings.withings)
    client = WithingsClient(settings.withings, store, timeout=timeout)
    user_id = client.ensure_token()  # a seeded token learns its `userid` from the first refresh
    if not user_id:
        raise NotConnected(f"withings has no user id stored: run `{reconnect_command('withings')}`")
    state = _state(engine, "withings", WITHINGS_RESOURCE, user_id)
    window = withings_window(state, now=now, lookback=timedelta(days=settings.lookback_days),
                             since=since, full=full)
    # lastupdate=0 asks for every group ever created or modified: the full history.
    lastupdate = int(window.start.timestamp()) if window.start else 0

    def fetch() -> Iterator[FetchedPage]:
        for page in client.iter_measure_pages(lastupdate=lastupdate):
            yield FetchedPage(records=page.groups, timezone=page.timezone, updatetime=page.updatetime)

    def load(session, page: FetchedPage):
        return db_loader.load_withings_measures(session, page.records, user_id, page.timezone)

    return [Job("withings", WITHINGS_RESOURCE, user_id, window, fetch, load)]


JOB_BUILDERS = {"whoop": whoop_jobs, "withings": withings_jobs}
