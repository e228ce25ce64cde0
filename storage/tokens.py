"""The `oauth_token` table as the TokenStore handed to the API clients."""

from __future__ import annotations

import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from api_clients.oauth import Token
from configuration import clock
from configuration.accounts import DEFAULT_ACCOUNT
from configuration.logs import register_secret
from models import oauth_token
from storage import accounts
from storage.engine import reading

TABLE = oauth_token
# A headless seed is refreshed before the user id is known: it is stored as minus the account's
# id (0 before accounts existed), so the seeds of several accounts never meet in
# UNIQUE(provider, user_id), and any id <= 0 reads as unknown. Provider user ids are positive.
UNKNOWN_USER = 0


def _known(user_id: int | None) -> bool:
    return user_id is not None and user_id > UNKNOWN_USER


LOCK_TIMEOUT_SECONDS = 120


def _register(*tokens: str | None) -> None:
    for value in tokens:
        register_secret(value)


def register_stored(conn) -> None:
    """Mask every stored access and refresh token in every output from now on: a reader that
    prints what the APIs sent (the quarantine's payloads) may meet one there."""
    for row in conn.execute(select(TABLE.c.access_token, TABLE.c.refresh_token)):
        _register(*row)


class DbTokenStore:
    """One account's current token per provider; refreshes serialised across threads and processes.

    Both providers rotate refresh tokens and kill the old one (docs/API_NOTES.md, "Auth and tokens"), so two
    processes refreshing at once would burn each other's token: on PostgreSQL a session-level
    advisory lock guards the refresh, on SQLite a lock file beside the database.
    """

    def __init__(self, engine: Engine, account: str = DEFAULT_ACCOUNT):
        self.engine = engine
        self.account = account
        self._thread_locks: dict[str, threading.Lock] = {p: threading.Lock() for p in ("whoop", "withings")}

    def __repr__(self) -> str:
        return f"DbTokenStore({self.engine.url.render_as_string(hide_password=True)!r}, account={self.account!r})"

    # -- reads and writes -------------------------------------------------------------------
    # On Core connections, as the whole run: it plans with these reads before its first request.
    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:  # each read or write a transaction of its own
            yield conn

    def _mine(self):
        """This account's rows, in the same statement (no round trip to look its id up)."""
        return TABLE.c.account_id == accounts.id_of(self.account)

    def load(self, provider: str) -> Token | None:
        """The newest stored token of `provider` for this account, or None."""
        with reading(self.engine) as conn:
            row = conn.execute(
                select(TABLE)
                .where(TABLE.c.provider == provider, self._mine())
                .order_by(TABLE.c.updated_at.desc(), TABLE.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        _register(row.access_token, row.refresh_token)
        return Token(
            access_token=row.access_token,
            refresh_token=row.refresh_token,
            expires_at=row.expires_at,
            scope=row.scope,
            user_id=row.user_id if _known(row.user_id) else None,
        )

    def save(self, provider: str, token: Token) -> None:
        """Replace the provider's token of this account (committed when the call returns). The account is created if needed and the provider user linked to it:
        AccountConflict, and nothing saved, when the user belongs to another account."""
        _register(token.access_token, token.refresh_token)  # before the write: a failed save prints neither
        with self._connection() as conn:
            account_id = accounts.ensure(conn, self.account)
            rows = conn.execute(
                select(TABLE.c.id, TABLE.c.user_id)
                .where(TABLE.c.provider == provider, TABLE.c.account_id == account_id)
                .order_by(TABLE.c.id)
            ).all()
            user_id = token.user_id or next((r.user_id for r in rows if _known(r.user_id)), -account_id)
            if _known(user_id):
                accounts.link(conn, account_id, provider, user_id)
            keep = next((r for r in rows if r.user_id == user_id), None) or (rows[0] if rows else None)
            older = [r.id for r in rows if r is not keep]  # one person per provider: dead after rotation
            if older:
                conn.execute(delete(TABLE).where(TABLE.c.id.in_(older)))
            values = {
                "user_id": user_id,
                "access_token": token.access_token,
                "refresh_token": token.refresh_token,
                "expires_at": token.expires_at,
                "scope": token.scope,
                "updated_at": clock.utcnow(),
            }
            if keep is None:
                conn.execute(insert(TABLE).values(provider=provider, account_id=account_id, **values))
            else:
                conn.execute(update(TABLE).where(TABLE.c.id == keep.id).values(**values))

    def save_rotated(self, provider: str, token: Token) -> None:
        """Store the pair a refresh just rotated, in one UPDATE committed on its own at once: the
        provider killed the old refresh token as it answered, so nothing else (no link, no
        lookup, no waiting for the run's own transaction) comes before it. A pair with no row
        to replace (never, after a refresh of a stored token) is saved as `save` does."""
        _register(token.access_token, token.refresh_token)
        values = {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at,
            "scope": token.scope,
            "updated_at": clock.utcnow(),
        }
        mine = [TABLE.c.provider == provider, self._mine()]
        if _known(token.user_id):
            mine.append(TABLE.c.user_id == token.user_id)
        with self.engine.begin() as conn:
            replaced = conn.execute(update(TABLE).where(*mine).values(**values)).rowcount
        if not replaced:
            self.save(provider, token)

    def delete(self, provider: str) -> None:
        """Forget this account's token of the provider (disconnect)."""
        with self._connection() as conn:
            conn.execute(delete(TABLE).where(TABLE.c.provider == provider, self._mine()))

    # -- the refresh lock -------------------------------------------------------------------
    @contextmanager
    def refresh_lock(self, provider: str) -> Iterator[None]:
        """Serialise refreshes of `provider`; what is saved inside commits before the exit."""
        with self._thread_locks.setdefault(provider, threading.Lock()):  # per store: one account
            if self.engine.dialect.name == "postgresql":
                with self._pg_lock(provider):
                    yield
            else:
                with self._file_lock(provider):
                    yield

    def _lock_name(self, provider: str) -> str:
        # The default account keeps the name it had before accounts existed, so a process of the
        # previous release and one of this release still exclude each other during an upgrade.
        return provider if self.account == DEFAULT_ACCOUNT else f"{self.account}.{provider}"

    @contextmanager
    def _pg_lock(self, provider: str) -> Iterator[None]:
        # A session lock on a connection of its own, not a transaction's: each save inside
        # commits when it is made (a rotated token must not wait for the lock's end to be durable).
        # A killed process's connection closes, which lets the lock go.
        key = zlib.crc32(f"oauth-refresh:{self._lock_name(provider)}".encode())
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
            conn.commit()
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
                conn.commit()

    @contextmanager
    def _file_lock(self, provider: str) -> Iterator[None]:
        database = self.engine.url.database
        if not database or database == ":memory:":
            yield
            return
        lock_path = Path(database).with_name(f"{Path(database).name}.{self._lock_name(provider)}-refresh.lock")
        with FileLock(str(lock_path), timeout=LOCK_TIMEOUT_SECONDS, mode=0o600):
            yield
