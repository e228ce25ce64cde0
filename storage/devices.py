"""The Withings devices an account has linked, as the last getdevice read stored them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

import models


def stored_devices(conn: Connection, user_id: int) -> list[tuple[str | None, str | None]]:
    """(type, model) of each device stored for the Withings user; empty before the first read."""
    table = models.withings_device
    rows = conn.execute(
        select(table.c.type, table.c.model).where(table.c.user_id == user_id, table.c.deleted_at.is_(None))
    )
    return [(kind, model) for kind, model in rows]
