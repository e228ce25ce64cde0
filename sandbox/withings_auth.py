"""Withings OAuth2: 30-second codes, 3-hour access tokens, and refresh tokens that die late."""

from __future__ import annotations

from dataclasses import dataclass, field

from .auth import (
    WITHINGS_ACCESS_TTL,
    WITHINGS_CLIENT_ID,
    WITHINGS_CLIENT_SECRET,
    WITHINGS_CODE_TTL,
    WITHINGS_OLD_REFRESH_GRACE,
    WITHINGS_SCOPES,
    TokenClock,
    _Code,
    _new,
    redirect_with,
)
from .person import identity

INVALID_TOKEN = "XRequestID: Not provided invalid_token: The access token provided is invalid"


@dataclass
class _Refresh:
    scope: str
    dies_at: float | None = None  # set when a successor is issued (8 h grace)
    person: int = 0  # the sandbox person it belongs to


@dataclass
class _Access:
    expires_at: float
    kills: list[str] = field(default_factory=list)  # predecessor refresh tokens, dead on first use
    person: int = 0


class WithingsAuth:
    """Withings' rotation: a refresh returns a new pair; the old refresh token keeps working until
    the new access token is first used or 8 hours have passed (developer guide, "access and
    refresh tokens"). Older access tokens live on until they expire (not documented otherwise).
    """

    def __init__(self, clock: TokenClock, access_ttl: float = WITHINGS_ACCESS_TTL) -> None:
        self.clock, self.access_ttl = clock, access_ttl
        self.refreshes = 0  # refresh grants answered (tests count refresh storms with it)
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}

    def authorize(self, params: dict[str, str], person: int = 0) -> tuple[int, str]:
        """Auto-approve for `person`: (302, redirect location) or (400, message)."""
        if params.get("client_id") != WITHINGS_CLIENT_ID or not params.get("redirect_uri"):
            return 400, "Invalid client_id or missing redirect_uri"
        uri, state = params["redirect_uri"], params.get("state")
        if params.get("response_type") != "code" or not state:  # state is required by Withings
            return 400, "Invalid Params: response_type=code and state are required"
        scope = params.get("scope", "user.metrics")
        if any(s not in WITHINGS_SCOPES for s in scope.split(",")):  # comma-separated, unlike WHOOP
            return 400, f"Invalid Params: scope {scope!r}"
        code = _new("nc_")
        self._codes[code] = _Code(uri, scope, self.clock.now() + WITHINGS_CODE_TTL, person)
        return 302, redirect_with(uri, code=code, state=state)

    def _live_refresh(self, token: str) -> _Refresh | None:
        record = self._refresh.get(token)
        if record is not None and record.dies_at is not None and record.dies_at <= self.clock.now():
            del self._refresh[token]
            return None
        return record

    def _issue(self, scope: str, predecessor: str | None, person: int) -> dict:
        access, refresh = _new("na_"), _new("nr_")
        self._access[access] = _Access(self.clock.now() + self.access_ttl, [predecessor] if predecessor else [], person)
        self._refresh[refresh] = _Refresh(scope, person=person)
        return {
            "userid": str(identity(person).withings_userid),
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.access_ttl,
            "scope": scope,
            "csrf_token": _new(""),
            "token_type": "Bearer",
        }

    def requesttoken(self, form: dict[str, str]) -> tuple[int, dict, str | None]:
        """action=requesttoken: (body status, body, error). Every outcome is HTTP 200.

        Status 503 ("Invalid Params") covers a bad client, code or refresh token, as clients
        report; the exact code for a wrong client secret is not documented.
        """
        if (form.get("client_id"), form.get("client_secret")) != (WITHINGS_CLIENT_ID, WITHINGS_CLIENT_SECRET):
            return 503, {}, "Invalid Params: invalid client_id or client_secret"
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = self._codes.pop(form.get("code", ""), None)
            if code is None or code.expires_at < self.clock.now() or code.redirect_uri != form.get("redirect_uri"):
                return 503, {}, "Invalid Params: invalid code"
            return 0, self._issue(code.scope, None, code.person), None
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            record = self._live_refresh(token)
            if record is None:
                return 503, {}, "Invalid Params: invalid refresh_token"
            self.refreshes += 1
            if record.dies_at is None:
                record.dies_at = self.clock.now() + WITHINGS_OLD_REFRESH_GRACE
            return 0, self._issue(record.scope, token, record.person), None
        return 503, {}, f"Invalid Params: grant_type {grant!r}"

    def check(self, access_token: str | None) -> bool:
        """Whether an access token is live; its first use kills the refresh token it replaced."""
        record = self._access.get(access_token or "")
        if record is None or record.expires_at <= self.clock.now():
            return False
        for old in record.kills:
            self._refresh.pop(old, None)
        record.kills = []
        return True

    def owner(self, access_token: str | None) -> int | None:
        """The person an access token was issued to, live or not; None for a token never issued."""
        record = self._access.get(access_token or "")
        return record.person if record else None

    def mint_refresh_token(self, person: int = 0) -> str:
        """A fresh refresh token of `person` with every scope (headless setup)."""
        token = _new("nr_")
        self._refresh[token] = _Refresh(",".join(WITHINGS_SCOPES), person=person)
        return token

    def expire_access_tokens(self) -> None:
        """Let every access token run out (tests of the refresh path)."""
        for record in self._access.values():
            record.expires_at = 0.0
