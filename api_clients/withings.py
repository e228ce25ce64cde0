"""Withings public API client: getmeas, Measure v2 and Sleep v2 pages; every body status checked."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Iterator

import requests

from api_clients.errors import (
    ApiError,
    ClientRejected,
    InvalidRequest,
    NotImplementedByApi,
    RateLimited,
    ReconnectRequired,
    ScopeMissing,
    TransientError,
    Unauthorized,
)
from api_clients.http import Retry
from api_clients.oauth import AuthorizationCode, Token, token_from_response
from api_clients.pages import Page

log = logging.getLogger(__name__)
PROVIDER = "withings"
TOKEN_PATH = "/v2/oauth2"
AUTHORIZE_PATH = "/oauth2_user/authorize2"
# Weight and body composition, BP, pulse, temperature, SpO2, PWV, vascular age, ... in one call.
MEASTYPES = (1, 4, 5, 6, 8, 9, 10, 11, 12, 54, 71, 73, 76, 77, 88, 91, 123, 155, 167, 168, 169, 170, 226)
CATEGORY_REAL_MEASURES = 1
AUTH_FAILED = {100, 101, 102, 200, 401}
USER_PATH = "/v2/user"
DEVICES_SCOPE = "user.info"  # getdevice (docs/API_NOTES.md, Withings "Devices")
STATUS_TIMEOUT, STATUS_TOO_MANY = 522, 601
# Withings documents no status for a missing scope; 2555 is "Unauthorized: not allowed to call this
# service" in its response_status table, which is what a token without the scope gets (UNCONFIRMED;
# docs/API_NOTES.md, Withings "Errors in HTTP 200"). 214 and 2553 stay a plain Unauthorized.
STATUS_SCOPE_MISSING = 2555
DEFAULT_MAX_PAGES = 10_000
NOTIFY_PATH = "/notify"


def raise_for_status(status: int, error: str, during: str, scope: str | None = None, what: str = "this data") -> None:
    """Turn a non-zero body status into the typed error of its family (Withings response_status)."""
    detail = f"{during}: status {status}" + (f" ({error[:120]})" if error else "")
    if status in AUTH_FAILED:
        raise ApiError(PROVIDER, f"{during}: authentication failed (status {status})", status)
    if status == 403 or "insufficient_scope" in error.lower():
        # A token without the scope: body status 403, "Insufficient_scope: The request requires
        # higher privileges than provided by the access token" (docs/API_NOTES.md, Withings
        # "Activity and sleep"; joostlek/python-withings #587).
        raise ScopeMissing(PROVIDER, scope, what, status)
    if status == STATUS_TOO_MANY:
        raise RateLimited(PROVIDER, detail, status)
    if status == STATUS_TIMEOUT:
        raise TransientError(PROVIDER, detail, status)
    if status == 2554:
        raise NotImplementedByApi(PROVIDER, detail, status)
    if status == STATUS_SCOPE_MISSING:
        raise ScopeMissing(PROVIDER, scope, what, status)
    if status in (214, 2553):
        raise Unauthorized(PROVIDER, detail, status)
    if 201 <= status <= 213 or 501 <= status <= 511:
        raise InvalidRequest(PROVIDER, detail, status)
    raise ApiError(PROVIDER, detail, status)


class WithingsClient(AuthorizationCode):
    """Errors come back as HTTP 200 with a non-zero `status` (docs/API_NOTES.md); none is ever ignored."""

    name = PROVIDER
    scope_separator = ","  # Withings joins scopes with commas
    authorize_path = AUTHORIZE_PATH
    requests_per_minute = 120  # docs/API_NOTES.md, Withings "Rate limits"
    daily_limit = None  # Withings documents none
    token_lifetime = timedelta(hours=3)
    poll_seconds = 90.0  # `watch`: one `lastupdate` request a poll

    @property
    def user_id(self) -> int | None:
        """The Withings `userid` saved with the token (the data bodies do not carry it)."""
        return self.tokens.user_id

    def granted_scopes(self) -> set[str] | None:
        """The scopes the stored token was granted (comma-separated for Withings); None if unknown."""
        scope = self.tokens.scope
        return {s.strip() for s in scope.replace(" ", ",").split(",") if s.strip()} if scope else None

    def ensure_token(self) -> int | None:
        """Make sure a current access token exists (refreshing a seeded one); returns the user id."""
        self.tokens.access_token()
        return self.tokens.user_id

    def current_user_id(self) -> int:
        """The Withings `userid` of the stored token; a seeded token learns it from its first refresh."""
        user_id = self.ensure_token()
        if not user_id:
            raise ReconnectRequired(PROVIDER, "no Withings user id is stored with the token")
        return user_id

    # -- data ------------------------------------------------------------------------------
    def iter_action_pages(
        self,
        path: str,
        action: str,
        params: dict,
        records_key: str,
        max_pages: int | None = None,
        *,
        scope: str | None = None,
        what: str = "this data",
    ) -> Iterator[Page]:
        """Pages of a list action that pages with `more`/`offset` (getmeas, getactivity, getsummary).

        An offset that does not strictly increase, or more than `max_pages` pages, is an ApiError;
        a refused scope is ScopeMissing naming the caller's `scope` and `what`.
        """
        query = {**params, "action": action}
        cap, last_offset = max_pages or DEFAULT_MAX_PAGES, int(params.get("offset") or 0)
        for _ in range(cap):
            page = _page(self._call(path, query, scope, what), records_key, path)
            yield page
            if not page.more:  # `more` is documented as an int; some answers use a bool
                return
            if page.offset is None or page.offset <= last_offset:
                raise ApiError(
                    PROVIDER,
                    f"{path} {action}: more=1 with offset {page.offset} after offset "
                    f"{last_offset}: the offset must grow; stopped paging",
                )
            last_offset = query["offset"] = page.offset
        raise ApiError(PROVIDER, f"{path} {action}: more than {cap} pages; stopped paging")

    def iter_measure_pages(
        self,
        path: str,
        lastupdate: int | None = None,
        startdate: int | None = None,
        enddate: int | None = None,
        max_pages: int | None = None,
        *,
        scope: str | None = None,
        what: str = "this data",
    ) -> Iterator[Page]:
        """getmeas pages to the end; use `lastupdate` to sync (it catches edits and back-dated entries)."""
        params: dict[str, str | int] = {"meastypes": ",".join(map(str, MEASTYPES)), "category": CATEGORY_REAL_MEASURES}
        if lastupdate is not None:
            params["lastupdate"] = int(lastupdate)
        else:
            params.update({k: int(v) for k, v in (("startdate", startdate), ("enddate", enddate)) if v is not None})
        return self.iter_action_pages(path, "getmeas", params, "measuregrps", max_pages, scope=scope, what=what)

    def get_action(
        self, path: str, action: str, params: dict, *, scope: str | None = None, what: str = "this data"
    ) -> dict:
        """The `body` of one call of an action that does not page (Sleep v2 get, getintradayactivity)."""
        return self._call(path, {**params, "action": action}, scope, what)

    def devices(self) -> list[dict]:
        """User v2 `getdevice`: the raw `devices` list (type, model, battery, first and last session)."""
        body = self._call(USER_PATH, {"action": "getdevice"}, DEVICES_SCOPE, "the list of your devices")
        devices = body.get("devices")
        if not isinstance(devices, list):
            raise ApiError(PROVIDER, f"{USER_PATH} getdevice: the body has no devices list")
        return devices

    def ecg_signal(self, signalid: int, *, scope: str | None = None, what: str = "ECG recordings") -> dict:
        """Heart v2 `get`: one recording's signal (samples in microvolts, frequency, wear position)."""
        return self._call("/v2/heart", {"action": "get", "signalid": int(signalid)}, scope, what)

    # -- notifications (notify-subscribe, notify-list, notify-revoke) ---------------------------
    def fetch_subscriptions(self) -> list[dict]:
        """Every notification subscription of this user: [{appli, callbackurl, comment, expires}]."""
        body = self._call(NOTIFY_PATH, {"action": "list"}, what="the notification subscriptions")
        profiles = body.get("profiles")
        if not isinstance(profiles, list) or not all(isinstance(p, dict) for p in profiles):
            raise ApiError(PROVIDER, f"{NOTIFY_PATH} list: the body has no profiles list")
        if not all(str(p.get("appli")).isdigit() and isinstance(p.get("callbackurl"), str) for p in profiles):
            raise ApiError(PROVIDER, f"{NOTIFY_PATH} list: a profile without a numeric appli or a callbackurl")
        return [{**p, "appli": int(p["appli"])} for p in profiles]

    def subscribe(self, callback_url: str, appli: int, comment: str = "") -> None:
        """Subscribe `callback_url` to `appli`; Withings sends a HEAD to the URL before it accepts."""
        params = {"action": "subscribe", "callbackurl": callback_url, "appli": int(appli), "comment": comment}
        self._call(NOTIFY_PATH, params, what=f"notifications of appli {appli}")

    def revoke(self, callback_url: str, appli: int) -> None:
        """Remove the subscription of `callback_url` to `appli`."""
        params = {"action": "revoke", "callbackurl": callback_url, "appli": int(appli)}
        self._call(NOTIFY_PATH, params, what=f"notifications of appli {appli}")

    def _call(self, path: str, params: dict, scope: str | None = None, what: str = "this data") -> dict:
        data = self.tokens.call(
            lambda token: self._post(path, params, token), lambda answer: answer.get("status") in AUTH_FAILED
        )
        status = data.get("status")
        if status == 0:
            return data.get("body") or {}
        raise_for_status(status if isinstance(status, int) else -1, str(data.get("error") or ""), path, scope, what)
        raise AssertionError("unreachable")  # raise_for_status always raises

    def _post(self, path: str, params: dict, token: str | None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(
            "POST", self.base_url + path, data=params, headers=headers, check=_retry_body_status
        )
        if response.status_code != 200:
            raise ApiError(PROVIDER, f"HTTP {response.status_code} on {path}", response.status_code)
        data = _body(response)
        if data is None:
            raise TransientError(PROVIDER, f"{path}: the response is not JSON")
        if not isinstance(data, dict) or "status" not in data:
            raise ApiError(PROVIDER, f"{path}: response without a status")
        return data

    # -- OAuth -----------------------------------------------------------------------------
    def fetch_user_id(self, token: Token) -> int:
        """The `userid` that came with the token (Withings returns it in the token body)."""
        if token.user_id is None:
            raise ApiError(PROVIDER, "the token response carries no userid")
        return token.user_id

    def _refresh(self, refresh_token: str) -> Token:
        token = self._token_call(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, what="the refresh token"
        )
        log.info("withings: access token refreshed")
        return token

    def _token_call(self, form: dict, what: str) -> Token:
        data = self._post(
            TOKEN_PATH,
            {
                "action": "requesttoken",
                **form,
                "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret,
            },
            token=None,
        )
        status = data.get("status")
        if status != 0:
            # On the token call 503 (and 401) mean the code or refresh token is dead (withings-sync #41).
            if _names_the_client(data.get("error")):
                raise ClientRejected(PROVIDER, what, status)
            if status in (503, 401) or status in AUTH_FAILED:
                reason = f"{what} was refused (status {status})"
                if form["grant_type"] == "refresh_token":
                    raise ReconnectRequired(PROVIDER, reason)
                raise ApiError(PROVIDER, reason, status)
            raise_for_status(status if isinstance(status, int) else -1, "", "token endpoint")
        return token_from_response(data.get("body"), PROVIDER)


def _names_the_client(error: object) -> bool:
    # A wrong client id or secret answers status 503 like a dead refresh token; only the error
    # text ("Invalid Params: invalid client_id or client_secret") tells the two apart.
    text = str(error or "").lower()
    return "client_id" in text or "client_secret" in text or "invalid_client" in text


def _body(response: requests.Response) -> object | None:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_body_status(response: requests.Response) -> Retry | None:
    """Withings' retryable statuses inside an HTTP 200, for the shared retry policy."""
    data = _body(response)
    status = data.get("status") if isinstance(data, dict) else None
    path = response.request.path_url.split("?", 1)[0] if response.request is not None else ""
    if status == STATUS_TIMEOUT:
        return Retry(f"status 522 (timeout) on {path}")
    if status == STATUS_TOO_MANY:
        # The 601 body may say how long to wait: {"status": 601, "body": {"wait_seconds": 188}}
        # (kodymallory/MMM-withings #15); without it, a rate-limit minute.
        body = data.get("body")
        wait = body.get("wait_seconds") if isinstance(body, dict) else None
        return Retry(
            f"status 601 (too many requests) on {path}",
            rate_limited=True,
            wait=float(wait) if isinstance(wait, (int, float)) else None,
        )
    return None


def _page(body: dict, records_key: str, path: str) -> Page:
    records = body.get(records_key)
    if not isinstance(records, list):
        raise ApiError(PROVIDER, f"{path}: the body has no {records_key} list")
    offset, updatetime = body.get("offset"), body.get("updatetime")
    return Page(
        records=records,
        timezone=body.get("timezone"),
        updatetime=int(updatetime) if isinstance(updatetime, (int, float)) else None,
        more=bool(body.get("more")),
        offset=int(offset) if isinstance(offset, int) else None,
    )
