"""OAuth2 tokens: the store protocol, an in-memory store, and refresh with rotation."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, ContextManager, Iterator, Protocol

from api_clients.errors import ReconnectRequired

EXPIRY_MARGIN = timedelta(seconds=120)  # refresh a little early: a request must not expire in flight


@dataclass
class Token:
    """An OAuth pair; the token strings are excluded from repr so they never reach a log."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None = None
    scope: str | None = None
    user_id: int | None = None

    def expired(self, now: datetime | None = None) -> bool:
        if not self.access_token:
            return True
        if self.expires_at is None:
            return False
        return (now or datetime.now(timezone.utc)) >= self.expires_at - EXPIRY_MARGIN


def token_from_response(body: dict, now: datetime | None = None) -> Token:
    """A Token from a token endpoint's JSON (`expires_in` seconds from now)."""
    now = now or datetime.now(timezone.utc)
    expires_in = body.get("expires_in")
    user_id = body.get("userid", body.get("user_id"))
    return Token(
        access_token=str(body["access_token"]),
        refresh_token=body.get("refresh_token"),
        expires_at=now + timedelta(seconds=int(expires_in)) if expires_in is not None else None,
        scope=body.get("scope"),
        user_id=int(user_id) if user_id not in (None, "") else None,
    )


class TokenStore(Protocol):
    """Where tokens live between runs; implemented by token_store.DbTokenStore."""

    def load(self, provider: str) -> Token | None: ...

    def save(self, provider: str, token: Token) -> None: ...

    def refresh_lock(self, provider: str) -> ContextManager[None]: ...


class MemoryTokenStore:
    """A TokenStore in memory (tests, one process)."""

    def __init__(self, tokens: dict[str, Token] | None = None):
        self.tokens = dict(tokens or {})
        self.saves: list[tuple[str, Token]] = []
        self._lock = threading.RLock()

    def load(self, provider: str) -> Token | None:
        with self._lock:
            token = self.tokens.get(provider)
            return replace(token) if token else None

    def save(self, provider: str, token: Token) -> None:
        with self._lock:
            self.tokens[provider] = replace(token)
            self.saves.append((provider, replace(token)))

    @contextmanager
    def refresh_lock(self, provider: str) -> Iterator[None]:
        with self._lock:
            yield


class TokenManager:
    """The current access token of one provider; refreshes before expiry and once on a 401.

    Both providers rotate refresh tokens and kill the old one (api_facts.md §1.2, §2.1): the new
    pair is saved inside the store's refresh lock before it is used, and the store is re-read
    inside the lock so a token another thread or process just rotated is used, not refreshed again.
    """

    def __init__(self, provider: str, store: TokenStore, refresh: Callable[[str], Token],
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.provider, self.store, self._refresh, self._now = provider, store, refresh, now
        self._token: Token | None = None
        self._lock = threading.Lock()

    def access_token(self) -> str:
        """A usable access token, refreshing first when it is (nearly) expired."""
        with self._lock:
            token = self._token or self.store.load(self.provider)
            if token is None:
                raise ReconnectRequired(self.provider, "no token is stored")
            self._token = token
            if not token.expired(self._now()):
                return token.access_token
        return self.refresh(rejected=None)

    @property
    def user_id(self) -> int | None:
        token = self._token or self.store.load(self.provider)
        return token.user_id if token else None

    def refresh(self, rejected: str | None) -> str:
        """Refresh once (or adopt a token refreshed meanwhile); `rejected` got a 401."""
        with self._lock, self.store.refresh_lock(self.provider):
            current = self.store.load(self.provider)
            if current is None:
                raise ReconnectRequired(self.provider, "no token is stored")
            fresh_elsewhere = current.access_token and current.access_token != rejected
            if fresh_elsewhere and not current.expired(self._now()):
                self._token = current
                return current.access_token
            if not current.refresh_token:
                raise ReconnectRequired(self.provider, "the stored token has no refresh token")
            new = self._refresh(current.refresh_token)
            new.user_id = new.user_id or current.user_id
            new.refresh_token = new.refresh_token or current.refresh_token
            self.store.save(self.provider, new)  # committed before the new token is ever sent
            self._token = new
            return new.access_token
