"""OAuth2 for both stand-ins: fixed sandbox clients, codes, and the two providers' rotation rules."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

WHOOP_CLIENT_ID = "sandbox-whoop-client"
WHOOP_CLIENT_SECRET = "sandbox-whoop-secret"
WITHINGS_CLIENT_ID = "sandbox-withings-client"
WITHINGS_CLIENT_SECRET = "sandbox-withings-secret"
WHOOP_SCOPES = (
    "offline",
    "read:recovery",
    "read:cycles",
    "read:workout",
    "read:sleep",
    "read:profile",
    "read:body_measurement",
)
WITHINGS_SCOPES = ("user.info", "user.metrics", "user.activity")
WHOOP_ACCESS_TTL = 3600  # the docs' example expires_in
WHOOP_CODE_TTL = 600  # not documented; Ory Hydra's default is 10 minutes
WITHINGS_ACCESS_TTL = 10800  # 3 hours
WITHINGS_CODE_TTL = 30  # "The authorization code is valid for 30 seconds"
WITHINGS_OLD_REFRESH_GRACE = 8 * 3600  # the old refresh token dies 8 h after the new one is issued


class TokenClock:
    """Wall-clock seconds plus an offset that tests can advance to expire tokens.

    Token lifetimes run on this clock, not on the data clock: a client computes `expires_at`
    from its own wall clock, so advance_day() must not silently expire every token.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch on the token clock."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the token clock forward."""
        self.offset += seconds


def redirect_with(uri: str, **params: str) -> str:
    """redirect_uri with query parameters appended."""
    joiner = "&" if "?" in uri else "?"
    return uri + joiner + urlencode({k: v for k, v in params.items() if v is not None})


def _new(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24)


@dataclass
class _Code:
    redirect_uri: str
    scope: str
    expires_at: float
    person: int = 0  # the sandbox person who approved it


class WhoopAuth:
    """WHOOP's token endpoint (Ory Hydra): refresh tokens rotate and kill the user's older access tokens.

    Every token belongs to one sandbox person: access tokens map to (expiry, person), refresh
    tokens to (scope, person).
    """

    def __init__(self, clock: TokenClock, access_ttl: float = WHOOP_ACCESS_TTL) -> None:
        self.clock, self.access_ttl = clock, access_ttl
        self.refreshes = 0  # refresh grants answered (tests count refresh storms with it)
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, tuple[float, int]] = {}
        self._refresh: dict[str, tuple[str, int]] = {}

    def authorize(self, params: dict[str, str], person: int = 0) -> tuple[int, str]:
        """Auto-approve for `person`: (302, redirect location) or (400, message) when the client is unknown."""
        if params.get("client_id") != WHOOP_CLIENT_ID or not params.get("redirect_uri"):
            return 400, "invalid_client: unknown client_id or missing redirect_uri"
        uri, state = params["redirect_uri"], params.get("state")
        if params.get("response_type") != "code":
            return 302, redirect_with(uri, error="unsupported_response_type", state=state)
        if not state or len(state) < 8:  # Hydra rejects states shorter than 8 characters
            return 302, redirect_with(uri, error="invalid_state", state=state)
        scope = params.get("scope", "")
        if any(s not in WHOOP_SCOPES for s in scope.split()):
            return 302, redirect_with(uri, error="invalid_scope", state=state)
        code = _new("wc_")
        self._codes[code] = _Code(uri, scope, self.clock.now() + WHOOP_CODE_TTL, person)
        return 302, redirect_with(uri, code=code, scope=scope, state=state)

    def _issue(self, scope: str, person: int) -> dict:
        access = _new("wa_")
        self._access[access] = (self.clock.now() + self.access_ttl, person)
        body = {"access_token": access, "expires_in": self.access_ttl, "scope": scope, "token_type": "bearer"}
        if "offline" in scope.split():  # a refresh token only with the `offline` scope
            body["refresh_token"] = _new("wr_")
            self._refresh[body["refresh_token"]] = (scope, person)
        return body

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict]:
        """POST /oauth/oauth2/token: (HTTP status, JSON body)."""
        client = basic or (form.get("client_id"), form.get("client_secret"))
        if client != (WHOOP_CLIENT_ID, WHOOP_CLIENT_SECRET):
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = self._codes.pop(form.get("code", ""), None)
            if code is None or code.expires_at < self.clock.now() or code.redirect_uri != form.get("redirect_uri"):
                return 400, _invalid_grant("The authorization code is invalid, expired or already used.")
            return 200, self._issue(code.scope, code.person)
        if grant == "refresh_token":
            grant_of = self._refresh.pop(form.get("refresh_token", ""), None)
            if grant_of is None:
                return 400, _invalid_grant("The refresh token is invalid, expired or was already used.")
            scope, person = grant_of
            self.refreshes += 1
            # "Existing access tokens are invalidated once your app uses the refresh token": the user's.
            self._drop(self._access, person)
            return 200, self._issue(scope, person)
        return 400, {"error": "unsupported_grant_type", "error_description": f"grant_type {grant!r}"}

    def check(self, access_token: str | None) -> bool:
        """Whether a bearer token is live (unknown, invalidated or expired ones are not)."""
        record = self._access.get(access_token or "")
        return record is not None and record[0] > self.clock.now()

    def owner(self, access_token: str | None) -> int | None:
        """The person an access token was issued to, live or not; None for a token never issued."""
        record = self._access.get(access_token or "")
        return record[1] if record else None

    def mint_refresh_token(self, person: int = 0) -> str:
        """A fresh refresh token of `person` with every scope, as if they had just connected (headless setup)."""
        token = _new("wr_")
        self._refresh[token] = (" ".join(WHOOP_SCOPES), person)
        return token

    def expire_access_tokens(self) -> None:
        """Let every access token run out (tests of the refresh-on-401 path)."""
        for token, (_, person) in self._access.items():
            self._access[token] = (0.0, person)

    def revoke(self, person: int = 0) -> None:
        """DELETE /v2/user/access: every token of the user dies; other people's live on."""
        self._drop(self._access, person)
        self._drop(self._refresh, person)

    @staticmethod
    def _drop(tokens: dict[str, tuple], person: int) -> None:
        """Forget the tokens of one person (the record's last item)."""
        for token in [token for token, record in tokens.items() if record[-1] == person]:
            del tokens[token]


def _invalid_grant(description: str) -> dict:
    return {"error": "invalid_grant", "error_description": description}
