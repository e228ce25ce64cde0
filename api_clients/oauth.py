"""OAuth2 tokens: the store protocol, an in-memory store, and refresh with rotation."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, ContextManager, Iterable, Protocol, TypeVar
from urllib.parse import urlencode

from api_clients.errors import ApiError, ReconnectRequired
from api_clients.http import HttpClient
from configuration import clock

MAX_MARGIN_SECONDS = 120.0  # refresh a little early: a request must not expire in flight...
MARGIN_FRACTION = 0.1  # ...but a short-lived token is used for most of its life
MAX_TOKEN_ATTEMPTS = 3  # requests one call may send with a token that is fresh yet refused
Response = TypeVar("Response")


def refresh_margin(lifetime: float | None) -> timedelta:
    """How long before expiry a token is refreshed: min(120 s, a tenth of its lifetime)."""
    if lifetime is None:
        return timedelta(seconds=MAX_MARGIN_SECONDS)
    return timedelta(seconds=min(MAX_MARGIN_SECONDS, max(0.0, lifetime) * MARGIN_FRACTION))


@dataclass
class Token:
    """An OAuth pair; the token strings are excluded from repr so they never reach a log."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None = None
    scope: str | None = None
    user_id: int | None = None
    lifetime: float | None = None  # `expires_in` when issued; not stored, so None after a reload

    def expired(self, now: datetime | None = None, lifetime: float | None = None) -> bool:
        """Whether to refresh before use; `lifetime` stands in when the token does not know its own."""
        if not self.access_token:
            return True
        if self.expires_at is None:
            return False
        margin = refresh_margin(self.lifetime if self.lifetime is not None else lifetime)
        return (now or clock.utcnow()) >= self.expires_at - margin


def token_from_response(body: object, provider: str = "oauth", now: datetime | None = None) -> Token:
    """A Token from a token endpoint's JSON (`expires_in` seconds from now); ApiError when malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise ApiError(provider, "the token endpoint answered without an access token")
    now = now or clock.utcnow()
    user_id = body.get("userid", body.get("user_id"))
    try:
        expires_in = float(body["expires_in"]) if body.get("expires_in") is not None else None
        user = int(user_id) if user_id not in (None, "") else None
    except (TypeError, ValueError):
        raise ApiError(provider, "the token endpoint answered with a malformed expires_in or user id") from None
    return Token(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") or None,
        expires_at=now + timedelta(seconds=expires_in) if expires_in is not None else None,
        scope=body.get("scope"),
        user_id=user,
        lifetime=expires_in,
    )


class TokenStore(Protocol):
    """Where tokens live between runs; implemented by storage.tokens.DbTokenStore."""

    def load(self, provider: str) -> Token | None: ...

    def save(self, provider: str, token: Token) -> None: ...

    def save_rotated(self, provider: str, token: Token) -> None:
        """Durably replace the pair a refresh rotated (the old refresh token is dead), first and fast."""
        ...

    def refresh_lock(self, provider: str) -> ContextManager[None]: ...


class TokenManager:
    """The current access token of one provider: refreshed before expiry, at most one refresh at a time.

    Both providers rotate refresh tokens and kill the old one (docs/API_NOTES.md, "Auth and
    tokens"): the new pair is saved inside the store's refresh lock before it is used, and the
    store is re-read inside the lock, so a token another thread or process just rotated is
    adopted, not refreshed again. Only a refused refresh token asks the user to re-connect.
    """

    def __init__(
        self,
        provider: str,
        store: TokenStore,
        refresh: Callable[[str], Token],
        now: Callable[[], datetime] = lambda: clock.utcnow(),
    ):
        self.provider, self.store, self._refresh, self._now = provider, store, refresh, now
        self._token: Token | None = None
        self._lifetime: float | None = None  # learned from our own refreshes; stored tokens lack it
        # (refresh token, why) of a refusal: the process's other resources are told the same
        # without sending the dead token again, so a run meets (and reports) it once.
        self._refused: tuple[str, str] | None = None
        self._lock = threading.Lock()

    def access_token(self) -> str:
        """A usable access token, refreshing first when it is (nearly) expired."""
        with self._lock:
            token = self._token or self.store.load(self.provider)
            if token is None:
                raise ReconnectRequired(self.provider, "no token is stored")
            self._token = token
            if not token.expired(self._now(), self._lifetime):
                return token.access_token
        return self.refresh(rejected=token.access_token)

    @property
    def user_id(self) -> int | None:
        """The provider's user id saved with the token, if known."""
        token = self._in_hand()
        return token.user_id if token else None

    @property
    def scope(self) -> str | None:
        """The scopes the stored token was granted, as the provider wrote them (None if unknown)."""
        token = self._in_hand()
        return token.scope if token else None

    def _in_hand(self) -> Token | None:
        # Kept once read, as `access_token` keeps it: a run plans with the user id, and its first
        # requests then use the token it read, without reading it again on every fetch thread.
        with self._lock:
            if self._token is None:
                self._token = self.store.load(self.provider)
            return self._token

    def remember_user_id(self, user_id: int) -> None:
        """Store the user id beside the current token (learnt from a profile call)."""
        with self._lock, self.store.refresh_lock(self.provider):
            current = self.store.load(self.provider)
            if current is not None:
                current.user_id = user_id
                self.store.save(self.provider, current)
                self._token = current

    def refresh(self, rejected: str | None) -> str:
        """Refresh, or adopt a token stored meanwhile elsewhere; `rejected` was refused or is expiring."""
        with self._lock, self.store.refresh_lock(self.provider):
            current = self.store.load(self.provider)
            if current is None:
                raise ReconnectRequired(self.provider, "no token is stored")
            # A token someone else stored since is fresh by definition: adopt it unless it has
            # truly expired (a stored token does not know its lifetime, so no early margin).
            replaced = current.access_token and current.access_token != rejected
            if replaced and not current.expired(self._now(), self._lifetime or 0.0):
                self._token = current
                return current.access_token
            if not current.refresh_token:
                raise ReconnectRequired(self.provider, "the stored token has no refresh token")
            if self._refused is not None and self._refused[0] == current.refresh_token:
                raise ReconnectRequired(self.provider, self._refused[1])
            try:
                new = self._refresh(current.refresh_token)
            except ReconnectRequired as exc:
                self._refused = (current.refresh_token, exc.reason)
                raise
            # The provider killed the old refresh token as it answered: until the new one is
            # committed, a kill of this process leaves the account to re-connect. So it is
            # written first, in a transaction of its own, before anything else is done.
            new.refresh_token = new.refresh_token or current.refresh_token
            new.user_id = new.user_id or current.user_id
            self.store.save_rotated(self.provider, new)
            self._token, self._lifetime = new, new.lifetime or self._lifetime
            return new.access_token

    def call(self, send: Callable[[str], Response], refused: Callable[[Response], bool]) -> Response:
        """`send(token)`; a refused token is replaced (adopted or refreshed) and the call resent.

        With rotation a token can die between our refresh and its use (another thread or process
        refreshed meanwhile), so a refusal is retried a few times. A refusal that persists is a
        server problem (exit 1), never a reason to re-connect: the refresh token still works.
        """
        token = self.access_token()
        for attempt in range(1, MAX_TOKEN_ATTEMPTS + 1):
            response = send(token)
            if not refused(response):
                return response
            if attempt < MAX_TOKEN_ATTEMPTS:
                token = self.refresh(rejected=token)
        raise ApiError(
            self.provider,
            f"the API refused {MAX_TOKEN_ATTEMPTS} access tokens in a row, each "
            "current when sent (the refresh token still works); try again later",
            401,
        )


class AuthorizationCode:
    """What every provider client shares: its constructor, its authorization page and the code
    exchange. A client sets `name`, `requests_per_minute`, `authorize_path`, `base_scopes` and
    `scope_separator` and implements `_token_call` and `_refresh`."""

    name: str
    requests_per_minute: int
    authorize_path: str
    base_scopes: tuple[str, ...] = ()  # what the client itself needs, besides the resources' scopes
    scope_separator: str

    def __init__(self, settings, store: TokenStore, **http_options) -> None:
        """A client of the API `settings` names, its tokens kept in `store`. `http_options` are
        HttpClient's keywords (timeout, session, sleep, clock, max_wait, deadline, max_retries,
        budget); the settings' `requests_per_minute`, when set, overrides the client's own."""
        self.settings = settings
        self.base_url = settings.api_base_url.rstrip("/")
        per_minute = getattr(settings, "requests_per_minute", None) or self.requests_per_minute
        self.http = HttpClient(self.name, per_minute=per_minute, **http_options)
        self.tokens = TokenManager(self.name, store, self._refresh)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    @classmethod
    def scope_text(cls, scopes: Iterable[str]) -> str:
        """The `scope` parameter asking for the client's own scopes and `scopes`, each once."""
        return cls.scope_separator.join(dict.fromkeys([*cls.base_scopes, *scopes]))

    def authorization_url(self, state: str, scopes: Iterable[str] = ()) -> str:
        """The page where the user approves access (the client's scopes and every one in `scopes`)."""
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": self.settings.redirect_uri,
            "scope": self.scope_text(scopes),
            "state": state,
        }
        return f"{self.settings.auth_base_url.rstrip('/')}{self.authorize_path}?{urlencode(query)}"

    def exchange_code(self, code: str) -> Token:
        """Trade an authorization code for a token pair at once (a Withings code lives 30 seconds)."""
        return self._token_call(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.settings.redirect_uri},
            what="the authorization code",
        )

    def _token_call(self, form: dict, what: str) -> Token:
        raise NotImplementedError

    def _refresh(self, refresh_token: str) -> Token:
        raise NotImplementedError
