"""`webhooks subscribe|list|revoke`: each account's Withings notification subscriptions for one callback URL.

Every action lists first. Subscribing adds only the categories the URL lacks (what Withings does
with a duplicate subscription is undocumented); revoking removes only that URL's. What Withings
lists is then stored per account (storage/subscriptions.py), with the callback masked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from api_clients.errors import classify_error
from configuration import clock
from configuration.accounts import DEFAULT_ACCOUNT
from configuration.push import WITHINGS_APPLIS, mask_callback, strip_url
from storage import account_policy, subscriptions
from storage.tokens import DbTokenStore
from sync.plan import open_client

log = logging.getLogger(__name__)
PROVIDER = "withings"
# Withings' status for a callback its HEAD could not reach is not documented; the sandbox answers 293.
CALLBACK_UNREACHABLE = 293
COMMENT = "whoop-etl"  # what Withings shows beside each subscription


@dataclass
class Outcome:
    """One account's subscriptions after an action: what Withings lists, what changed, what failed."""

    account: str
    held: list[dict] = field(default_factory=list)  # [{appli, callback (masked), mine}]
    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    error: str | None = None
    reconnect: bool = False
    skipped: bool = False  # not connected to Withings and not named: nothing to do


def chosen_accounts(engine, settings, names=()) -> list[tuple[str, int | None, bool]]:
    """(name, id, named) of the accounts to act on: those named, else every account a run syncs."""
    with engine.connect() as conn:
        return [(s.label(), s.id, bool(names)) for s in account_policy.to_run(conn, names, settings=settings)]


def manage(settings, engine, account: tuple[str, int | None, bool], action: str, url: str | None) -> Outcome:
    """Run `action` ("list", "subscribe" or "revoke" of `url`) for one account; never raises for the API."""
    name, account_id, named = account
    outcome = Outcome(name)
    store = DbTokenStore(engine, name)
    seeded = name == DEFAULT_ACCOUNT and bool(settings.withings.seed_refresh_token)  # the first run stores it
    if store.load(PROVIDER) is None and not (named or seeded):
        outcome.skipped = True
        return outcome
    step = "listing the subscriptions"
    try:
        client, _user = open_client(settings, store, PROVIDER, engine)
        profiles = client.fetch_subscriptions()
        mine = {p["appli"] for p in profiles if url and strip_url(p["callbackurl"]) == strip_url(url)}
        _apply(client, action, url, mine, outcome)  # a failure is recorded; what changed is listed below
        if outcome.added or outcome.removed:
            step = "listing the subscriptions afterwards"
            profiles = client.fetch_subscriptions()
        _store(engine, account_id, profiles, url, settings.withings_webhook_secret, outcome)
    except Exception as exc:  # one account's failure is its line; the others go on
        _failed(outcome, step, exc, name if named else None)
    return outcome


def _apply(client, action: str, url: str | None, mine: set[int], outcome: Outcome) -> None:
    """Subscribe the categories the URL lacks, or revoke those it holds; stop at the first refusal."""
    changes = [a for a in WITHINGS_APPLIS if a not in mine] if action == "subscribe" else sorted(mine)
    for appli in changes if action in ("subscribe", "revoke") else ():
        what = f"appli {appli} ({WITHINGS_APPLIS.get(appli, 'other')})"
        try:
            if action == "subscribe":
                client.subscribe(url, appli, comment=COMMENT)
                outcome.added.append(appli)
            else:
                client.revoke(url, appli)
                outcome.removed.append(appli)
        except Exception as exc:  # recorded for this account; the caller still lists what holds now
            _failed(outcome, f"{'subscribing' if action == 'subscribe' else 'revoking'} {what}", exc, None)
            return


def _failed(outcome: Outcome, step: str, exc: BaseException, account: str | None) -> None:
    message, reconnect = classify_error(exc, account)
    outcome.reconnect |= reconnect
    if outcome.error:  # the first failure is the one to fix
        return
    outcome.error = f"{step}: {message}"
    if getattr(exc, "status", None) == CALLBACK_UNREACHABLE:
        outcome.error += " (Withings could not reach the URL with its HEAD check: is `serve` running behind it?)"
    log.debug("webhooks (account %s): %s", outcome.account, outcome.error)


def relist(engine, client, account_id: int | None, secret: str | None) -> list[dict]:
    """Store what Withings lists now for the client's user (a watch relying on Withings push does
    it with each sweep, so `status --check` sees a subscription Withings dropped within a day)."""
    return _store(engine, account_id, client.fetch_subscriptions(), None, secret)


def _store(engine, account_id, profiles: list[dict], url: str | None, secret: str | None, outcome=None) -> list[dict]:
    held = []
    for profile in profiles:
        callback = str(profile.get("callbackurl") or "")
        mine = bool(url) and strip_url(callback) == strip_url(url)
        held.append({"appli": int(profile["appli"]), "callback": mask_callback(callback, secret), "mine": mine})
    held.sort(key=lambda h: (h["appli"], h["callback"]))
    if outcome is not None:
        outcome.held = held
    if account_id is not None:
        with engine.begin() as conn:
            subscriptions.replace(
                conn, account_id, PROVIDER, [(h["appli"], h["callback"]) for h in held], clock.utcnow()
            )
    return held
