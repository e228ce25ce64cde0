"""WHOOP v2 client: collections as bounded page generators, profile, OAuth (refresh, code, scopes)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Iterator

import requests

from api_clients.errors import (
    ApiError,
    ClientRejected,
    InvalidRequest,
    ReconnectRequired,
    ScopeMissing,
    TransientError,
)
from api_clients.oauth import AuthorizationCode, Token, token_from_response

log = logging.getLogger(__name__)
PROVIDER = "whoop"
# v1 is gone (docs/API_NOTES.md, WHOOP "Collections"): only /developer/v2 paths, never /v1.
PROFILE_PATH = "/developer/v2/user/profile/basic"
PROFILE_SCOPE = "read:profile"  # WHOOP OpenAPI securitySchemes
AUTHORIZE_PATH = "/oauth/oauth2/auth"
TOKEN_PATH = "/oauth/oauth2/token"
PAGE_LIMIT = 25  # the spec's maximum; larger values are a 400
DEFAULT_MAX_PAGES = 10_000


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, as the API expects for start/end."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WhoopClient(AuthorizationCode):
    """Thread-safe: the collections may be paged concurrently on one instance (one rate limit)."""

    name = PROVIDER
    # `offline` brings a refresh token; the profile tells whose token it is. The resources' own
    # scopes come from their declarations.
    base_scopes = ("offline", PROFILE_SCOPE)
    scope_separator = " "  # WHOOP joins scopes with spaces
    authorize_path = AUTHORIZE_PATH
    requests_per_minute = 100  # docs/API_NOTES.md, WHOOP "Rate limits"
    daily_limit = 10_000  # requests a day per app (the same section)
    token_lifetime = timedelta(hours=1)
    poll_seconds = 600.0  # `watch`: recovery and sleep, one request each a poll

    # -- data ------------------------------------------------------------------------------
    def iter_collection(
        self,
        path: str,
        start: datetime | None = None,
        end: datetime | None = None,
        max_pages: int | None = None,
        *,
        scope: str | None = None,
        what: str = "this data",
    ) -> Iterator[list[dict]]:
        """Yield one list of records per page, newest first, until `next_token` is empty.

        A `next_token` seen before, or more than `max_pages` pages, is an ApiError: a server
        that loops must not burn the daily quota and hold the run lock. A refused scope is
        ScopeMissing naming the caller's `scope` and `what`.
        """
        params: dict[str, str | int] = {"limit": PAGE_LIMIT}
        if start is not None:
            params["start"] = iso_utc(start)  # inclusive
        if end is not None:
            params["end"] = iso_utc(end)  # exclusive
        cap, seen = max_pages or DEFAULT_MAX_PAGES, set()
        for _ in range(cap):
            body = self._get(path, params, scope=scope, what=what)
            records = body.get("records")
            if not isinstance(records, list):
                raise ApiError(PROVIDER, f"{path}: response has no records list")
            yield records
            # Request `nextToken` (camelCase), response `next_token` (docs/API_NOTES.md, WHOOP "Paging").
            next_token = body.get("next_token")
            if not next_token:
                return
            if next_token in seen:
                raise ApiError(
                    PROVIDER, f"{path}: the API repeated a next_token after {len(seen) + 1} pages; stopped paging"
                )
            seen.add(next_token)
            params["nextToken"] = next_token
        raise ApiError(PROVIDER, f"{path}: more than {cap} pages; stopped paging")

    def newest_record(
        self, path: str, start: datetime, end: datetime, *, scope: str | None = None, what: str = "this data"
    ) -> dict | None:
        """The newest record of a collection that starts in [start, end), or None: one request, `limit=1`."""
        params = {"limit": 1, "start": iso_utc(start), "end": iso_utc(end)}
        records = self._get(path, params, scope=scope, what=what).get("records")
        if not isinstance(records, list):
            raise ApiError(PROVIDER, f"{path}: response has no records list")
        return records[0] if records and isinstance(records[0], dict) else None

    def get_profile(self) -> dict:
        """`/v2/user/profile/basic`: user_id, email, first and last name."""
        return self._get(PROFILE_PATH, {}, scope=PROFILE_SCOPE)

    def get_object(self, path: str, *, scope: str | None = None, what: str = "this data") -> dict:
        """One object endpoint without paging (profile, body measurement)."""
        return self._get(path, {}, scope=scope, what=what)

    def granted_scopes(self) -> set[str] | None:
        """The scopes the stored token was granted (space-separated for WHOOP); None if unknown."""
        scope = self.tokens.scope
        return set(scope.split()) if scope else None

    def _get(
        self, path: str, params: dict, token: str | None = None, *, scope: str | None = None, what: str = "this data"
    ) -> dict:
        def send(access: str) -> requests.Response:
            return self.http.request(
                "GET", self.base_url + path, params=params, headers={"Authorization": f"Bearer {access}"}
            )

        # 401: expired, revoked or replaced by a refresh elsewhere (docs/API_NOTES.md, WHOOP "Auth and tokens").
        response = send(token) if token else self.tokens.call(send, _refused)
        if response.status_code == 401 and token:
            raise ApiError(PROVIDER, f"{path}: the new access token was refused (HTTP 401)", 401)
        if response.status_code == 403 or _insufficient_scope(response):
            # RFC 6750 §3.1: a token without the needed scope is `insufficient_scope`, HTTP 403.
            raise ScopeMissing(PROVIDER, scope, what, response.status_code)
        if response.status_code == 400:
            raise InvalidRequest(PROVIDER, f"HTTP 400 on {path}: {_error_text(response)}", 400)
        if response.status_code != 200:
            raise ApiError(PROVIDER, f"HTTP {response.status_code} on {path}", response.status_code)
        return _json(response, path)

    # -- OAuth -----------------------------------------------------------------------------
    def current_user_id(self) -> int:
        """The user the stored token belongs to: saved with it, else one profile call (then saved)."""
        user_id = self.tokens.user_id
        if not user_id:
            user_id = int(self.get_profile()["user_id"])
            self.tokens.remember_user_id(user_id)
        return user_id

    def fetch_user_id(self, token: Token) -> int:
        """The user id of a freshly issued token (WHOOP's token response does not carry it)."""
        profile = self._get(PROFILE_PATH, {}, token=token.access_token, scope=PROFILE_SCOPE)
        try:
            return int(profile["user_id"])
        except (KeyError, TypeError, ValueError):
            raise ApiError(PROVIDER, f"{PROFILE_PATH}: the profile has no user_id") from None

    def _refresh(self, refresh_token: str) -> Token:
        # `scope=offline` keeps a refresh token coming back (docs/API_NOTES.md, WHOOP "Auth and tokens").
        token = self._token_call(
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": "offline"},
            what="the refresh token",
        )
        log.info("whoop: access token refreshed")
        return token

    def _token_call(self, form: dict, what: str) -> Token:
        response = self.http.request(
            "POST",
            self.base_url + TOKEN_PATH,
            data={**form, "client_id": self.settings.client_id, "client_secret": self.settings.client_secret},
        )
        if response.status_code in (400, 401, 403):
            # invalid_client (RFC 6749 section 5.2): the app's id or secret, not the token, is wrong.
            # invalid_grant: the code or refresh token was used, revoked or expired.
            code = _error_code(response)
            if code == "invalid_client":
                raise ClientRejected(PROVIDER, what, response.status_code)
            reason = f"{what} was refused ({code})"
            if form["grant_type"] == "refresh_token":
                raise ReconnectRequired(PROVIDER, reason)
            raise ApiError(PROVIDER, reason, response.status_code)
        if response.status_code != 200:
            raise ApiError(PROVIDER, f"token endpoint: HTTP {response.status_code}", response.status_code)
        try:
            body = response.json()
        except ValueError:
            raise ApiError(PROVIDER, "the token endpoint did not answer JSON") from None
        return token_from_response(body, PROVIDER)


def _refused(response: requests.Response) -> bool:
    return response.status_code == 401 and not _insufficient_scope(response)


def _insufficient_scope(response: requests.Response) -> bool:
    return "insufficient_scope" in response.headers.get("WWW-Authenticate", "")


def _json(response: requests.Response, path: str) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise TransientError(PROVIDER, f"{path}: the response is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(PROVIDER, f"{path}: unexpected response shape")
    return body


def _error_code(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", f"HTTP {response.status_code}"))[:80]
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"


def _error_text(response: requests.Response) -> str:
    return response.text[:200].replace("\n", " ")
