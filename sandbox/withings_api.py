"""The Withings stand-in: getmeas with lastupdate/startdate/enddate/offset paging, OAuth, body statuses."""

from __future__ import annotations

import time
from typing import Callable

from .faults import RateWindow
from .people import People
from .store import query_groups
from .timeutil import unix
from .web import Request, Response, json_response, redirect, text_response
from .withings_auth import INVALID_TOKEN, WithingsAuth
from .withings_daily import INSUFFICIENT_SCOPE
from .withings_data import WITHINGS_TIMEZONE
from .withings_series import SERIES_ACTIONS

DEFAULT_PAGE_SIZE = 200  # the real page size is not documented
RATE_LIMIT_PER_MINUTE = 120  # "limited to 120 requests per minute", for the whole application
STATUS_TEXT = {
    401: INVALID_TOKEN,
    503: "Invalid Params",
    522: "Timeout",
    601: "Too Many Requests",
    2554: "Not implemented",
}


def body_status(status: int, body: dict | None = None, error: str | None = None) -> Response:
    """Withings' envelope. Errors are HTTP 200 too, told apart only by a non-zero `status`."""
    payload: dict = {"status": status, "body": body or {}}
    if status != 0:
        payload["error"] = error or STATUS_TEXT.get(status, "An error occurred")
    return json_response(payload)


def _token(req: Request) -> str | None:
    """The access token: a bearer header is the documented way; the legacy `access_token` parameter also works."""
    return req.bearer() or req.params.get("access_token")


def _int_param(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    return int(value) if value not in (None, "") else None


class WithingsApi:
    """Routes /measure, /v2/oauth2 and /oauth2_user/authorize2; an access token picks the sandbox
    person, and one rate window counts the requests of all of them, as Withings counts per application."""

    def __init__(
        self,
        people: People,
        auth: WithingsAuth,
        page_size: int = DEFAULT_PAGE_SIZE,
        rate_limit: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.people, self.auth, self.page_size = people, auth, page_size
        self.enforce = rate_limit is not None
        self.window = RateWindow(rate_limit or RATE_LIMIT_PER_MINUTE, 60, clock)
        self.denied_scopes: set[str] = set()  # scopes the sandbox user "did not grant"

    def handle(self, req: Request) -> Response:
        """Answer one request."""
        response = self._answer(req)
        if response.person is None:
            response.person = self.auth.owner(_token(req))
        return response

    def _answer(self, req: Request) -> Response:
        if req.path == "/oauth2_user/authorize2" and req.method == "GET":
            status, target = self.auth.authorize(req.query, self.people.signed_in)
            return redirect(target) if status == 302 else text_response(target, status)
        allowed = self.window.hit()[0]
        if self.enforce and not allowed:
            return body_status(601)
        params = req.params
        if req.path == "/v2/oauth2":
            if params.get("action") != "requesttoken":
                return body_status(2554)
            status, body, error = self.auth.requesttoken(params)
            response = body_status(status, body, error)
            response.person = self.auth.owner(body.get("access_token"))
            return response
        if req.path == "/measure":
            return self._measure(req, params)
        if (req.path, params.get("action")) in SERIES_ACTIONS:
            return self._series(req, params)
        if req.path in ("/v2/measure", "/v2/sleep"):
            return self._daily(req, params)
        return body_status(2554, error=f"Not implemented: {req.path}")

    def _measure(self, req: Request, params: dict[str, str]) -> Response:
        if not self.auth.check(_token(req)):
            return body_status(401)
        action = params.get("action")
        if action != "getmeas":
            return body_status(2554 if action else 503, error=None if action else "Invalid Params: action")
        try:
            return self._getmeas(self.auth.owner(_token(req)), params)
        except ValueError:
            return body_status(503, error="Invalid Params")

    def _getmeas(self, person: int, params: dict[str, str]) -> Response:
        """One page of measure groups; `more`/`offset` lead to the next page."""
        history = self.people.life(person).history
        types_text = params.get("meastypes") or params.get("meastype")
        types = {int(t) for t in types_text.split(",") if t.strip()} if types_text else None
        groups = query_groups(
            history.groups,
            lastupdate=_int_param(params, "lastupdate"),
            startdate=_int_param(params, "startdate"),
            enddate=_int_param(params, "enddate"),
            meastypes=types,
            category=_int_param(params, "category") or 1,
        )
        offset = _int_param(params, "offset") or 0
        page = groups[offset : offset + self.page_size]
        more = offset + self.page_size < len(groups)
        # With more=0 the sandbox answers offset 0; what the real API puts there then is unconfirmed.
        body = {
            "updatetime": unix(history.now),
            "timezone": WITHINGS_TIMEZONE,
            "measuregrps": page,
            "more": 1 if more else 0,
            "offset": offset + len(page) if more else 0,
        }
        return body_status(0, body)

    def _daily(self, req: Request, params: dict[str, str]) -> Response:
        """getactivity / getsummary: one page; `more` (a boolean here) and `offset` lead on."""
        if not self.auth.check(_token(req)):
            return body_status(401)
        if "user.activity" in self.denied_scopes:
            return body_status(403, error=INSUFFICIENT_SCOPE)
        try:
            found = self.people.life(self.auth.owner(_token(req))).daily.query(req.path, params)
            offset = _int_param(params, "offset") or 0
        except ValueError:
            return body_status(503, error="Invalid Params")
        if found is None:
            return body_status(2554 if params.get("action") else 503)
        key, records = found
        page = records[offset : offset + self.page_size]
        more = offset + self.page_size < len(records)
        return body_status(0, {key: page, "more": more, "offset": offset + len(page) if more else 0})

    def _series(self, req: Request, params: dict[str, str]) -> Response:
        """Sleep series, intraday, workouts, ECG and devices (sandbox/withings_series.py)."""
        if not self.auth.check(_token(req)):
            return body_status(401)
        if SERIES_ACTIONS[(req.path, params["action"])] in self.denied_scopes:
            return body_status(403, error=INSUFFICIENT_SCOPE)
        series = self.people.life(self.auth.owner(_token(req))).series
        try:
            status, body = series.answer(req.path, params["action"], params, self.page_size)
        except ValueError as exc:
            return body_status(503, error=f"Invalid Params: {exc}")
        return body_status(status, body)
