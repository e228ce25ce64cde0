"""The accounts as `whoop-etl accounts` lists them: providers, provider user ids, token state and
freshness; and removing one, keeping its data or purging it from every declared resource's table."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from sqlalchemy import select
from sqlalchemy.engine import Connection

from models import OAuthToken, SyncState
from readers.read_model import ago, needs_reconnect
from storage import accounts
from sync import resources

CONNECTED, RECONNECT, NONE = "connected", "must re-connect", "none"


def token_states(conn: Connection, account_id: int) -> dict[str, str]:
    """Per provider: `connected`, `must re-connect` (no refresh token, or the account's last sync
    of that provider failed asking for a re-connect since the token was saved) or `none`."""
    tokens = {
        row.provider: row
        for row in conn.execute(
            select(OAuthToken.provider, OAuthToken.refresh_token, OAuthToken.updated_at).where(
                OAuthToken.account_id == account_id
            )
        )
    }
    last_error: dict[str, tuple] = {}  # provider -> (attempted at, error) of its latest attempt
    for source, attempted, error in conn.execute(
        select(SyncState.source, SyncState.last_attempt_at, SyncState.error).where(SyncState.account_id == account_id)
    ):
        if attempted is not None and (source not in last_error or attempted > last_error[source][0]):
            last_error[source] = (attempted, error)
    states = {}
    for provider in resources.SOURCES:
        token = tokens.get(provider)
        if token is None:
            states[provider] = NONE
            continue
        attempted, error = last_error.get(provider, (None, None))
        # A re-connect saves a new token: an error older than it no longer counts.
        failed = needs_reconnect(provider, error) and (token.updated_at is None or attempted >= token.updated_at)
        states[provider] = RECONNECT if failed or not token.refresh_token else CONNECTED
    return states


def list_accounts(conn: Connection, only: tuple[str, ...] = ()) -> list[dict]:
    """Every account (or those named): name, providers, provider user ids, token state per provider,
    freshness (per provider and overall: the oldest last_success_at of its resources)."""
    out = []
    for row in accounts.list_accounts(conn, only):
        tokens = token_states(conn, row.id)
        fresh = accounts.freshness(conn, row.id)
        providers = [p for p in resources.SOURCES if p in row.users or tokens[p] != NONE]
        known = [at for at in fresh.values()]
        out.append(
            {
                "account": row.name,
                "providers": providers,
                "user_ids": {p: row.users.get(p, []) for p in providers},
                "tokens": {p: tokens[p] for p in providers},
                "last_success_at": fresh,
                "freshness": None if not known or None in known else min(known),
                "created_at": row.created_at,
                "last_run_at": row.last_run_at,
                "last_status": row.last_status,
            }
        )
    return out


def format_accounts(items: list[dict], now: datetime, tz: tzinfo = timezone.utc, zone: str = "UTC") -> str:
    """A plain table: one line per account, its times in `tz` (`zone` names it in the header)."""
    if not items:
        return "no account yet"
    width = max(7, *(len(i["account"]) for i in items))
    lines = [
        f"{'account':{width}}  {'provider':8}  {'user ids':14}  {'token':15}  synced, oldest resource (times in {zone})"
    ]
    for item in items:
        if not item["providers"]:
            lines.append(f"{item['account']:{width}}  {'-':8}  {'-':14}  {NONE:15}  never")
        for n, provider in enumerate(item["providers"]):
            name = item["account"] if n == 0 else ""
            ids = ", ".join(str(i) for i in item["user_ids"][provider]) or "-"
            synced = _aware(item["last_success_at"].get(provider), now)
            seen = "never" if synced is None else f"{synced.astimezone(tz):%Y-%m-%d %H:%M} ({ago(synced, now)})"
            lines.append(f"{name:{width}}  {provider:8}  {ids:14}  {item['tokens'][provider]:15}  {seen}")
    return "\n".join(lines)


def _aware(when: datetime | None, now: datetime) -> datetime | None:
    """SQLite hands back naive UTC; compare like with like."""
    if when is None or when.tzinfo is not None or now.tzinfo is None:
        return when
    return when.replace(tzinfo=now.tzinfo)
