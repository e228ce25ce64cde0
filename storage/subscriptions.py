"""Push state per account: the Withings subscriptions last listed, and when each provider's last event came.

`push_subscription` holds what Withings' `notify list` last answered for an account, replaced
whole each time (`webhooks subscribe`, `list`, `status`), so `status --check` and `webhooks
status` can read it without an API call. The newest event comes from `inbound_event`, through
the account's provider user ids.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

import models

TABLE = models.push_subscription


def replace(conn: Connection, account_id: int, provider: str, held: list[tuple[int, str]], now: datetime) -> None:
    """Store `held` ((appli, masked callback) pairs) as all the account's subscriptions of `provider`."""
    conn.execute(delete(TABLE).where(TABLE.c.account_id == account_id, TABLE.c.provider == provider))
    rows = [
        {"account_id": account_id, "provider": provider, "appli": appli, "callback": callback, "listed_at": now}
        for appli, callback in sorted(set(held))
    ]
    if rows:
        conn.execute(insert(TABLE), rows)


def stored(conn: Connection, account_id: int | None, provider: str = "withings") -> list[dict]:
    """The account's stored subscriptions of `provider`, by appli: [{appli, callback, listed_at}]."""
    if account_id is None:
        return []
    query = (
        select(TABLE.c.appli, TABLE.c.callback, TABLE.c.listed_at)
        .where(TABLE.c.account_id == account_id, TABLE.c.provider == provider)
        .order_by(TABLE.c.appli, TABLE.c.callback)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def last_events(conn: Connection, account_id: int | None) -> dict[str, datetime]:
    """provider -> when the newest event for one of the account's provider users was received
    (every account's when `account_id` is None: a database with no account row)."""
    event, link = models.inbound_event, models.account_provider
    query = select(event.c.provider, func.max(event.c.received_at)).group_by(event.c.provider)
    if account_id is not None:
        query = query.join(link, (link.c.provider == event.c.provider) & (link.c.user_id == event.c.user_id)).where(
            link.c.account_id == account_id
        )
    return {provider: newest for provider, newest in conn.execute(query) if newest is not None}


def forget(conn: Connection, account_id: int) -> None:
    """Delete the account's stored subscriptions (the account is being removed)."""
    conn.execute(delete(TABLE).where(TABLE.c.account_id == account_id))
