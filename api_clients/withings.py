"""Withings public API client: getmeas with lastupdate and more/offset paging; every body status checked."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import requests

from api_clients.errors import (ApiError, InvalidRequest, NotImplementedByApi, RateLimited, ReconnectRequired,
                                ScopeMissing, TransientError, Unauthorized)
from api_clients.http import HttpClient
from api_clients.oauth import Token, TokenManager, TokenStore, token_from_response

log = logging.getLogger(__name__)
PROVIDER = "withings"
MEASURE_PATH = "/measure"
TOKEN_PATH = "/v2/oauth2"
REQUESTS_PER_MINUTE = 120  # api_facts.md §2.2
# Weight and body composition, BP, pulse, temperature, SpO2, PWV, vascular age, ... in one call.
MEASTYPES = (1, 4, 5, 6, 8, 9, 10, 11, 12, 54, 71, 73, 76, 77, 88, 91, 123, 155, 167, 168, 169, 170, 226)
CATEGORY_REAL_MEASURES = 1
AUTH_FAILED = {100, 101, 102, 200, 401}
RETRYABLE_BODY = {522: "timeout", 601: "too many requests"}
MAX_PAGES = 10_000  # a server that keeps saying more=1 with the same offset must not loop forever
# The scope each data path needs; user.activity covers daily activity and sleep (docs/API_NOTES.md,
# Withings "Activity and sleep").
SCOPES = {MEASURE_PATH: ("user.metrics", "body measures"), "/v2/measure": ("user.activity", "activity data"),
          "/v2/sleep": ("user.activity", "activity data")}


@dataclass
class MeasurePage:
    """One getmeas response body."""

    groups: list
    timezone: str | None
    updatetime: int | None
    more: bool
    offset: int | None


def raise_for_status(status: int, error: str, during: str) -> None:
    """Turn a non-zero body status into the typed error of its family (W-SPEC response_status)."""
    detail = f"{during}: status {status}" + (f" ({error[:120]})" if error else "")
    if status in AUTH_FAILED:
        raise ReconnectRequired(PROVIDER, f"{during}: authentication failed (status {status})")
    if status == 403 or "insufficient_scope" in error.lower():
        # A token without the scope: body status 403, "Insufficient_scope: The request requires
        # higher privileges than provided by the access token" (docs/API_NOTES.md, Withings
        # "Activity and sleep"; joostlek/python-withings #587).
        scope, what = SCOPES.get(during, ("user.activity", "activity data"))
        raise ScopeMissing(PROVIDER, scope, what)
    if status == 601:
        raise RateLimited(PROVIDER, detail, status)
    if status == 522:
        raise TransientError(PROVIDER, detail, status)
    if status == 2554:
        raise NotImplementedByApi(PROVIDER, detail, status)
    if status in (214, 2553, 2555):
        raise Unauthorized(PROVIDER, detail, status)
    if 201 <= status <= 213 or 501 <= status <= 511:
        raise InvalidRequest(PROVIDER, detail, status)
    raise ApiError(PROVIDER, detail, status)


@dataclass
class ActionPage:
    """One page of a v2 action (getactivity, getsummary): its records and the paging fields."""

    records: list
    timezone: str | None
    updatetime: int | None  # getactivity and getsummary bodies carry none
    more: bool
    offset: int | None


class WithingsClient:
    """Errors come back as HTTP 200 with a non-zero `status` (§2.2); none is ever ignored."""

    def __init__(self, settings, store: TokenStore, *, timeout: float = 30.0,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 max_wait: float = 600.0, max_retries: int = 5):
        self.settings = settings
        self.base_url = settings.api_base_url.rstrip("/")
        per_minute = getattr(settings, "requests_per_minute", None) or REQUESTS_PER_MINUTE
        self.http = HttpClient(PROVIDER, timeout=timeout, per_minute=per_minute, session=session,
                               sleep=sleep, clock=clock, max_wait=max_wait, max_retries=max_retries)
        self.tokens = TokenManager(PROVIDER, store, self._refresh)

    def __repr__(self) -> str:
        return f"WithingsClient({self.base_url!r})"

    @property
    def user_id(self) -> int | None:
        """The Withings `userid` saved with the token (the getmeas body does not carry it)."""
        return self.tokens.user_id

    def iter_measure_pages(self, lastupdate: int | None = None, startdate: int | None = None,
                           enddate: int | None = None) -> Iterator[MeasurePage]:
        """getmeas pages to the end; use `lastupdate` to sync (it catches edits and back-dated entries)."""
        params: dict[str, str | int] = {"action": "getmeas", "meastypes": ",".join(map(str, MEASTYPES)),
                                        "category": CATEGORY_REAL_MEASURES}
        if lastupdate is not None:
            params["lastupdate"] = int(lastupdate)
        else:
            params.update({k: int(v) for k, v in (("startdate", startdate), ("enddate", enddate)) if v is not None})
        for _ in range(MAX_PAGES):
            body = self._call(MEASURE_PATH, params)
            page = _page(body)
            yield page
            if not page.more:  # `more` is documented as an int; fixtures use a bool (§2.3)
                return
            if page.offset is None or page.offset == params.get("offset"):
                raise ApiError(PROVIDER, "getmeas said more=1 without a new offset")
            params["offset"] = page.offset
        raise ApiError(PROVIDER, f"getmeas returned more than {MAX_PAGES} pages")

    def iter_action_pages(self, path: str, action: str, params: dict, records_key: str,
                          max_pages: int | None = None) -> Iterator[ActionPage]:
        """Pages of a v2 action (`lastupdate` or date params in `params`) to the end, via more/offset."""
        params = {"action": action, **params}
        for _ in range(max_pages or MAX_PAGES):
            page = _action_page(self._call(path, params), records_key, action)
            yield page
            if not page.more:  # a boolean on the v2 actions, an int on getmeas
                return
            if page.offset is None or page.offset == params.get("offset"):
                raise ApiError(PROVIDER, f"{action} said more without a new offset")
            params["offset"] = page.offset
        raise ApiError(PROVIDER, f"{action} returned more than {max_pages or MAX_PAGES} pages")

    def granted_scopes(self) -> set[str] | None:
        """The scopes the stored token was granted (comma-separated for Withings); None if unknown."""
        token = self.tokens._token or self.tokens.store.load(PROVIDER)
        if token is None or not token.scope:
            return None
        return {s.strip() for s in token.scope.replace(" ", ",").split(",") if s.strip()}

    def ensure_token(self) -> int | None:
        """Make sure a current access token exists (refreshing a seeded one); returns the user id."""
        self.tokens.access_token()
        return self.tokens.user_id

    def _call(self, path: str, params: dict) -> dict:
        attempt, waited = 0, 0.0
        token = self.tokens.access_token()
        refreshed = False
        while True:
            data = self._post(path, params, token)
            status = data.get("status")
            if status == 0:
                return data.get("body") or {}
            if status in AUTH_FAILED and not refreshed:  # an expired access token: refresh once
                token, refreshed = self.tokens.refresh(rejected=token), True
                continue
            if status in RETRYABLE_BODY:
                delay = self.http.backoff(attempt) * (5 if status == 601 else 1)
                if attempt < self.http.max_retries and waited + delay <= self.http.max_wait:
                    log.warning("withings: %s (status %s); retrying in %.1fs", RETRYABLE_BODY[status], status, delay)
                    self.http.sleep(delay)
                    attempt, waited = attempt + 1, waited + delay
                    continue
            raise_for_status(int(status) if isinstance(status, int) else -1, str(data.get("error") or ""), path)

    def _post(self, path: str, params: dict, token: str | None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request("POST", self.base_url + path, data=params, headers=headers)
        if response.status_code != 200:
            raise ApiError(PROVIDER, f"HTTP {response.status_code} on {path}", response.status_code)
        try:
            data = response.json()
        except ValueError:
            raise TransientError(PROVIDER, f"{path}: the response is not JSON") from None
        if not isinstance(data, dict) or "status" not in data:
            raise ApiError(PROVIDER, f"{path}: response without a status")
        return data

    def _refresh(self, refresh_token: str) -> Token:
        data = self._post(TOKEN_PATH, {
            "action": "requesttoken", "grant_type": "refresh_token", "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret, "refresh_token": refresh_token,
        }, token=None)
        status = data.get("status")
        if status != 0:
            # On the token call 503 (and 401) mean the refresh token is dead (§2.2, withings-sync #41).
            if status in (503, 401) or status in AUTH_FAILED:
                raise ReconnectRequired(PROVIDER, f"the refresh token was refused (status {status})")
            raise_for_status(int(status) if isinstance(status, int) else -1, "", "token refresh")
        log.info("withings: access token refreshed")
        return token_from_response(data.get("body") or {})


def _page(body: dict) -> MeasurePage:
    groups = body.get("measuregrps")
    if not isinstance(groups, list):
        raise ApiError(PROVIDER, "getmeas body has no measuregrps list")
    offset = body.get("offset")
    updatetime = body.get("updatetime")
    return MeasurePage(groups=groups, timezone=body.get("timezone"),
                       updatetime=int(updatetime) if isinstance(updatetime, (int, float)) else None,
                       more=bool(body.get("more")), offset=int(offset) if isinstance(offset, int) else None)


def _action_page(body: dict, records_key: str, action: str) -> ActionPage:
    records = body.get(records_key)
    if not isinstance(records, list):
        raise ApiError(PROVIDER, f"{action} body has no {records_key} list")
    offset, updatetime = body.get("offset"), body.get("updatetime")
    return ActionPage(records=records, timezone=body.get("timezone"),
                      updatetime=int(updatetime) if isinstance(updatetime, (int, float)) else None,
                      more=bool(body.get("more")), offset=offset if isinstance(offset, int) else None)
