"""The refresh token a provider rotates is committed first: its own transaction, right after the answer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import event, select

import models
from api_clients.oauth import Token, TokenManager
from storage.tokens import DbTokenStore

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def test_the_rotated_pair_is_the_first_write_and_commits_at_once(engine):
    store = DbTokenStore(engine, "alice")
    store.save("whoop", Token(access_token="old-access-1a2b3c", refresh_token="old-refresh-1a2b3c", expires_at=NOW))
    events: list[str] = []
    answered = []

    def record_sql(conn, cursor, statement, *args):
        if answered and not statement.lstrip().upper().startswith("BEGIN"):
            events.append(" ".join(statement.split())[:40])

    def record_commit(conn):
        if answered:
            events.append("COMMIT")

    def token_endpoint(refresh_token: str) -> Token:
        assert refresh_token == "old-refresh-1a2b3c"
        answered.append(True)  # the provider has killed the old refresh token now
        return Token(
            access_token="new-access-4d5e6f", refresh_token="new-refresh-4d5e6f", expires_at=NOW + timedelta(hours=1)
        )

    event.listen(engine, "before_cursor_execute", record_sql)
    event.listen(engine, "commit", record_commit)
    try:
        manager = TokenManager("whoop", store, token_endpoint, now=lambda: NOW + timedelta(days=1))
        assert manager.access_token() == "new-access-4d5e6f"
    finally:
        event.remove(engine, "before_cursor_execute", record_sql)
        event.remove(engine, "commit", record_commit)
    # Nothing between the answer and the durable pair: no lookup, no link, no other write.
    assert events[0].startswith("UPDATE oauth_token SET access_token=")
    assert events[1] == "COMMIT"
    with engine.connect() as conn:
        assert conn.execute(select(models.oauth_token.c.refresh_token)).scalar_one() == "new-refresh-4d5e6f"
