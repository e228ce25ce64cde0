"""The WHOOP v2 stand-in: collections with limit/start/end/nextToken, profile, body, OAuth, rate headers."""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import Callable

from .auth import WhoopAuth
from .faults import RateWindow
from .history import History
from .people import People
from .person import Identity
from .timeutil import epoch_ms, parse_iso
from .web import Request, Response, json_response, redirect, text_response

COLLECTIONS = {
    "/developer/v2/cycle": "cycle",
    "/developer/v2/recovery": "recovery",
    "/developer/v2/activity/sleep": "sleep",
    "/developer/v2/activity/workout": "workout",
}
DEFAULT_LIMIT, MAX_LIMIT = 10, 25
# Documented limits, per client app: 100 requests a minute and 10,000 a day (developer.whoop.com
# rate limiting). The header reads "100, 100;window=60, 10000;window=86400".
MINUTE_LIMIT, DAILY_LIMIT, DAY = 100, 10_000, 86_400
SINGLE = re.compile(r"^/developer/v2/(cycle|activity/sleep|activity/workout)/([^/]+)(/recovery|/sleep)?$")


def encode_token(cursor: tuple[int, str]) -> str:
    """An opaque next_token, shaped like WHOOP's (base64 of `a:b`, e.g. "MTIzOjEyMzEyMw")."""
    return base64.urlsafe_b64encode(f"{cursor[0]}:{cursor[1]}".encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, str]:
    """The cursor inside a next_token; ValueError when it was not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        ms, tie = raw.split(":", 1)
        return int(ms), tie
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("invalid nextToken") from exc


def _bad_request(message: str) -> Response:
    return json_response({"error": "bad_request", "message": message}, 400)


def profile(who: Identity) -> dict:
    """/v2/user/profile/basic of one sandbox person."""
    return {"user_id": who.whoop_user_id, "email": who.email, "first_name": who.first_name, "last_name": who.last_name}


class WhoopApi:
    """Routes /developer/* and /oauth/* requests; a bearer token picks the sandbox person, and one
    rate window (and one daily window) counts the requests of all of them, as WHOOP counts per app."""

    def __init__(
        self,
        people: People,
        auth: WhoopAuth,
        rate_limit: int | None = None,
        rate_window: int = 60,
        daily_limit: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.people, self.auth, self.clock = people, auth, clock
        self.denied_scopes: set[str] = set()  # scopes the sandbox user "did not grant"
        self.set_rate_limit(rate_limit, rate_window)
        self.set_daily_limit(daily_limit)

    def set_rate_limit(self, rate_limit: int | None, rate_window: int = 60) -> None:
        """None: WHOOP's headers (100/min) without 429s; a number: that limit, enforced."""
        self.enforce = rate_limit is not None
        self.window = RateWindow(rate_limit or MINUTE_LIMIT, rate_window if rate_limit else 60, self.clock)

    def set_daily_limit(self, daily_limit: int | None) -> None:
        """None: 10,000 a day in the header, not enforced; a number: that daily limit, enforced."""
        self.enforce_daily = daily_limit is not None
        self.day = RateWindow(daily_limit or DAILY_LIMIT, DAY, self.clock)

    @property
    def limit_header(self) -> str:
        """X-RateLimit-Limit: the minute quota first, then both policies."""
        minute, day = self.window, self.day
        return f"{minute.limit}, {minute.limit};window={minute.window}, {day.limit};window={day.window}"

    def handle(self, req: Request) -> Response:
        """Answer one request; every answer carries the X-RateLimit-* headers."""
        allowed, remaining, reset = self.window.hit()
        day_allowed, day_remaining, day_reset = self.day.hit()
        if self.enforce_daily and day_remaining < remaining:  # the headers speak of the nearer limit
            remaining, reset = day_remaining, day_reset
        if (self.enforce and not allowed) or (self.enforce_daily and not day_allowed):
            response = json_response({"error": "too_many_requests", "message": "Rate limit exceeded"}, 429)
        else:
            response = self._route(req)
        if response.person is None:
            response.person = self.auth.owner(req.bearer())
        response.headers.update(self.rate_headers(remaining, reset))
        return response

    def rate_headers(self, remaining: int, reset: int) -> dict[str, str]:
        """The X-RateLimit-* headers WHOOP sends on every response."""
        return {
            "X-RateLimit-Limit": self.limit_header,
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }

    def _route(self, req: Request) -> Response:
        if req.path == "/oauth/oauth2/token" and req.method == "POST":
            status, body = self.auth.token(req.form, req.basic())
            response = json_response(body, status, {"Cache-Control": "no-store"})
            response.person = self.auth.owner(body.get("access_token"))
            return response
        if req.path == "/oauth/oauth2/auth" and req.method == "GET":
            status, target = self.auth.authorize(req.query, self.people.signed_in)
            return redirect(target) if status == 302 else text_response(target, status)
        if not req.path.startswith("/developer/v2/"):
            # v1 is gone: recovery and sleep return 404 (elkimek/get-based #1581); so does all of v1 here.
            return json_response({"error": "not_found", "message": f"No route for {req.path}"}, 404)
        if not self.auth.check(req.bearer()):
            return json_response(
                {"error": "unauthorized", "message": "Authorization was not valid"},
                401,
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        person = self.auth.owner(req.bearer())
        if req.path == "/developer/v2/user/access" and req.method == "DELETE":
            self.auth.revoke(person)
            return Response(204)
        if req.method != "GET":
            return json_response({"error": "method_not_allowed"}, 405)
        return self._get(req, person)

    def _get(self, req: Request, person: int) -> Response:
        if req.path == "/developer/v2/user/profile/basic":
            return json_response(profile(self.people.identity(person)))
        history = self.people.life(person).history
        if req.path in COLLECTIONS:
            return self._collection(history, COLLECTIONS[req.path], req.query)
        if req.path == "/developer/v2/user/measurement/body":
            if "read:body_measurement" in self.denied_scopes:  # OAuth's insufficient_scope (RFC 6750)
                return json_response(
                    {"error": "insufficient_scope", "message": "The token lacks read:body_measurement"}, 403
                )
            weight = history.person.weight_kg(history.last_day)
            return json_response({"height_meter": 1.83, "weight_kilogram": round(weight, 4), "max_heart_rate": 194})
        match = SINGLE.match(req.path)
        record = self._single(history, *match.groups()) if match else None
        if record is None:
            return json_response({"error": "not_found", "message": f"No resource at {req.path}"}, 404)
        return json_response(record)

    @staticmethod
    def _single(history: History, kind: str, ident: str, child: str | None) -> dict | None:
        """GET /v2/cycle/{id}[/recovery|/sleep], /v2/activity/sleep/{id}, /v2/activity/workout/{id}."""
        collections = history.collections
        if kind != "cycle":
            return collections[kind.split("/")[1]].get(ident) if child is None else None
        if not ident.isdigit():
            return None
        cycle_id = int(ident)
        if child == "/recovery":
            return collections["recovery"].get(cycle_id)
        if child == "/sleep":  # the cycle's main sleep, the one its recovery points at
            recovery = collections["recovery"].get(cycle_id)
            return collections["sleep"].get(recovery["sleep_id"]) if recovery else None
        return collections["cycle"].get(cycle_id)

    def _collection(self, history: History, name: str, query: dict[str, str]) -> Response:
        """One page, newest first. `start` is inclusive and `end` exclusive, both on the record's
        `start` (recovery: on its sleep's start). The spec words `end` as "intersect this time or
        ended before"; matching on the start alone is the sandbox's simplification.
        """
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return _bad_request("limit must be an integer")
        if not 1 <= limit <= MAX_LIMIT:
            return _bad_request(f"limit must be between 1 and {MAX_LIMIT}")
        try:
            start = epoch_ms(parse_iso(query["start"])) if query.get("start") else None
            end = epoch_ms(parse_iso(query["end"])) if query.get("end") else None
            cursor = decode_token(query["nextToken"]) if query.get("nextToken") else None
        except ValueError as exc:
            return _bad_request(str(exc))
        records, following = history.collections[name].page(start, end, limit, cursor)
        payload: dict = {"records": records}
        if following is not None:  # "If the token is not present, there are no more records"
            payload["next_token"] = encode_token(following)
        return json_response(payload)
