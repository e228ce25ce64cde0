"""WHOOP developer API v2 client: collections as page generators, OAuth refresh, 429 pacing."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Callable, Iterator

import requests

from api_clients.errors import ApiError, InvalidRequest, ReconnectRequired, ScopeMissing, TransientError
from api_clients.http import HttpClient
from api_clients.oauth import Token, TokenManager, TokenStore, token_from_response

log = logging.getLogger(__name__)
PROVIDER = "whoop"
# v1 is gone (api_facts.md §1.1): only /developer/v2 paths, never /v1.
COLLECTIONS = {
    "cycles": "/developer/v2/cycle",
    "recovery": "/developer/v2/recovery",
    "sleep": "/developer/v2/activity/sleep",
    "workout": "/developer/v2/activity/workout",
}
PROFILE_PATH = "/developer/v2/user/profile/basic"
BODY_PATH = "/developer/v2/user/measurement/body"
TOKEN_PATH = "/oauth/oauth2/token"
SCOPES = {"/developer/v2/cycle": "read:cycles", "/developer/v2/recovery": "read:recovery",
          "/developer/v2/activity/sleep": "read:sleep", "/developer/v2/activity/workout": "read:workout",
          PROFILE_PATH: "read:profile", BODY_PATH: "read:body_measurement"}
SCOPE_WHAT = {BODY_PATH: "body measurements"}
PAGE_LIMIT = 25  # the spec's maximum; larger values are a 400
REQUESTS_PER_MINUTE = 100  # plus 10,000/day (§1.5)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, as the API expects for start/end."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WhoopClient:
    """Thread-safe: the four collections may be paged concurrently on one instance."""

    def __init__(self, settings, store: TokenStore, *, timeout: float = 30.0,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 max_wait: float = 600.0):
        self.settings = settings
        self.base_url = settings.api_base_url.rstrip("/")
        per_minute = getattr(settings, "requests_per_minute", None) or REQUESTS_PER_MINUTE
        self.http = HttpClient(PROVIDER, timeout=timeout, per_minute=per_minute,
                               session=session, sleep=sleep, clock=clock, max_wait=max_wait)
        self.tokens = TokenManager(PROVIDER, store, self._refresh)

    def __repr__(self) -> str:
        return f"WhoopClient({self.base_url!r})"

    # -- data ------------------------------------------------------------------------------
    def iter_pages(self, resource: str, start: datetime | None = None,
                   end: datetime | None = None) -> Iterator[list[dict]]:
        """`iter_collection` of a collection named in COLLECTIONS."""
        return self.iter_collection(COLLECTIONS[resource], start=start, end=end)

    def iter_collection(self, path: str, start: datetime | None = None,
                        end: datetime | None = None) -> Iterator[list[dict]]:
        """Yield one list of records per page, newest first, until `next_token` is empty."""
        params: dict[str, str | int] = {"limit": PAGE_LIMIT}
        if start is not None:
            params["start"] = iso_utc(start)  # inclusive
        if end is not None:
            params["end"] = iso_utc(end)  # exclusive
        while True:
            body = self._get(path, params)
            records = body.get("records")
            if not isinstance(records, list):
                raise ApiError(PROVIDER, f"{path}: response has no records list")
            yield records
            # Request `nextToken` (camelCase), response `next_token` (§1.7); same other params.
            next_token = body.get("next_token")
            if not next_token:
                return
            params["nextToken"] = next_token

    def get_profile(self) -> dict:
        """`/v2/user/profile/basic`: user_id, email, first and last name."""
        return self._get(PROFILE_PATH, {})

    def get_body_measurement(self) -> dict:
        """`/v2/user/measurement/body`: the current height, weight and max heart rate."""
        return self._get(BODY_PATH, {})

    def get_object(self, path: str) -> dict:
        """One object endpoint without paging (profile, body measurement)."""
        return self._get(path, {})

    def granted_scopes(self) -> set[str] | None:
        """The scopes the stored token was granted (space-separated for WHOOP); None if unknown."""
        token = self.tokens._token or self.tokens.store.load(PROVIDER)
        if token is None or not token.scope:
            return None
        return set(token.scope.split())

    def _get(self, path: str, params: dict) -> dict:
        token = self.tokens.access_token()
        response = self._send(path, params, token)
        if response.status_code == 401:  # expired or revoked (§1.2): refresh once, then give up
            response = self._send(path, params, self.tokens.refresh(rejected=token))
            if response.status_code == 401:
                raise ReconnectRequired(PROVIDER, "the API rejects a freshly refreshed token")
        if response.status_code == 403:
            # A token without the path's scope. WHOOP does not document the answer; OAuth bearer
            # tokens signal `insufficient_scope` with 403 (RFC 6750 §3.1; docs/API_NOTES.md, WHOOP
            # "Auth and tokens"). The body measurement is the only path whose scope `connect` added later.
            raise ScopeMissing(PROVIDER, SCOPES.get(path, "read:profile"), SCOPE_WHAT.get(path, "this data"))
        if response.status_code == 400:
            raise InvalidRequest(PROVIDER, f"HTTP 400 on {path}: {_error_text(response)}", 400)
        if response.status_code != 200:
            raise ApiError(PROVIDER, f"HTTP {response.status_code} on {path}", response.status_code)
        return _json(response, path)

    def _send(self, path: str, params: dict, token: str) -> requests.Response:
        return self.http.request("GET", self.base_url + path, params=params,
                                 headers={"Authorization": f"Bearer {token}"})

    # -- OAuth -----------------------------------------------------------------------------
    def _refresh(self, refresh_token: str) -> Token:
        # `scope=offline` keeps a refresh token coming back (§1.2, WHOOP refresh tutorials).
        response = self.http.request("POST", self.base_url + TOKEN_PATH, data={
            "grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": self.settings.client_id, "client_secret": self.settings.client_secret,
            "scope": "offline",
        })
        if response.status_code in (400, 401, 403):
            # invalid_grant: the refresh token was used, revoked or expired (§1.7).
            raise ReconnectRequired(PROVIDER, f"the refresh token was refused ({_error_code(response)})")
        if response.status_code != 200:
            raise ApiError(PROVIDER, f"token refresh: HTTP {response.status_code}", response.status_code)
        log.info("whoop: access token refreshed")
        return token_from_response(_json(response, TOKEN_PATH))


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
    except ValueError:
        return f"HTTP {response.status_code}"


def _error_text(response: requests.Response) -> str:
    return response.text[:200].replace("\n", " ")
