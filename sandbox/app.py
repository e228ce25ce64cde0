"""The sandbox application: state, routing to the two stand-ins, faults, the request log, mutations."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from . import admin, withings_notify
from .auth import (
    WHOOP_CLIENT_ID,
    WHOOP_CLIENT_SECRET,
    WITHINGS_CLIENT_ID,
    WITHINGS_CLIENT_SECRET,
    TokenClock,
    WhoopAuth,
)
from .faults import FaultInjector, FaultRule
from .history import History
from .people import DEFAULT_HELD, People
from .push import Pusher
from .web import Request, Response, json_response
from .whoop_api import WhoopApi
from .withings_api import DEFAULT_PAGE_SIZE, WithingsApi, body_status
from .withings_auth import WithingsAuth
from .withings_series import DEFAULT_SERIES_DAYS

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"  # the platform's default; any URI is accepted
WHOOP_PREFIXES = ("/developer/", "/oauth/")
# Faults that alter the stand-in's real answer rather than replace it.
ALTERING_FAULTS = ("repeat_token", "alternate_offset", "trickle")
REQUEST_LOG_SIZE = 50_000  # the newest entries are kept, so long benchmarks do not grow memory


@dataclass(frozen=True)
class Credentials:
    """What a client needs to talk to one stand-in."""

    provider: str
    client_id: str
    client_secret: str
    user_id: int
    api_base_url: str
    auth_base_url: str
    redirect_uri: str = DEFAULT_REDIRECT_URI


@dataclass(frozen=True)
class SandboxOptions:
    """How a sandbox behaves: its people and their history, latency and faults, rate limits, token lifetimes.

    `people` sandbox persons share the two client apps and their rate limits; person 0 is the
    single member of old (`history`). `rate_clock` (default: the wall clock) drives the rate
    windows, `whoop_daily_limit` enforces a daily one.
    """

    seed: int = 42
    days: int = 1095
    now: datetime | None = None
    latency_ms: int = 0
    fault_seed: int = 0
    whoop_rate_limit: int | None = None
    whoop_rate_window: int = 60
    withings_rate_limit: int | None = None
    withings_page_size: int = DEFAULT_PAGE_SIZE
    whoop_access_ttl: float | None = None
    withings_access_ttl: float | None = None
    people: int = 1
    held_histories: int = DEFAULT_HELD
    whoop_daily_limit: int | None = None
    rate_clock: Callable[[], float] = time.time
    # How many of the first `days` have sleep series and intraday samples (the watch and the sleep
    # monitor were set up that long ago); None: every day.
    series_days: int | None = DEFAULT_SERIES_DAYS


def provider_for(path: str) -> str:
    """'whoop' or 'withings', by path (both share one port)."""
    return "whoop" if path.startswith(WHOOP_PREFIXES) else "withings"


class SandboxApp:
    """Everything but the socket; one lock serialises state access (latency sleeps outside it).

    Every `person` argument defaults to person 0 (SandboxOptions says who the people are).
    """

    def __init__(self, options: SandboxOptions | None = None) -> None:
        o = options or SandboxOptions()
        self.lock = threading.RLock()
        self.base_url = ""
        self.people = People(
            o.people, seed=o.seed, days=o.days, now=o.now, held=o.held_histories, series_days=o.series_days
        )
        self.history: History = self.people.life(0).history
        self.token_clock = TokenClock()
        self.whoop_auth = WhoopAuth(self.token_clock)
        self.withings_auth = WithingsAuth(self.token_clock)
        for provider, ttl in (("whoop", o.whoop_access_ttl), ("withings", o.withings_access_ttl)):
            if ttl is not None:
                self.set_access_ttl(ttl, provider)
        self.whoop = WhoopApi(
            self.people, self.whoop_auth, o.whoop_rate_limit, o.whoop_rate_window, o.whoop_daily_limit, o.rate_clock
        )
        self.withings = WithingsApi(
            self.people, self.withings_auth, o.withings_page_size, o.withings_rate_limit, o.rate_clock
        )
        self.faults = FaultInjector(o.fault_seed, o.latency_ms)
        self._log: deque[dict] = deque(maxlen=REQUEST_LOG_SIZE)
        self.push = Pusher()  # webhooks and notifications, off until a target is set (sandbox/push.py)

    def dispatch(self, req: Request) -> Response:
        """Answer one request: admin, or a fault, or the provider's stand-in."""
        if req.path.startswith("/_sandbox/"):
            with self.lock:
                return admin.handle(self, req)
        if req.path == "/notify":  # Withings subscriptions: HEADs the callback, so never under the lock
            return withings_notify.handle(self, req)
        rule, latency = self.faults.pick(req.path)
        if latency:
            time.sleep(latency / 1000)
        provider = provider_for(req.path)
        with self.lock:
            if rule is None or rule.kind in ALTERING_FAULTS or rule.style == "exhausted":
                response = (self.whoop if provider == "whoop" else self.withings).handle(req)
                if rule is not None:
                    _alter(rule, response)
            else:
                response = self._fault_response(rule, provider)
            self._log.append(
                {
                    "provider": provider,
                    "method": req.method,
                    "path": req.path,
                    "query": req.query,
                    "form": req.form,
                    "authorization": req.header("authorization"),
                    "status": None if response.drop else response.status,
                    "fault": rule.kind if rule else None,
                    "person": response.person,
                }
            )
        return response

    def _fault_response(self, rule: FaultRule, provider: str) -> Response:
        if rule.kind == "drop":
            return Response(drop=True)
        if rule.kind == "withings_status":
            return body_status(rule.status, {"wait_seconds": rule.wait_seconds} if rule.wait_seconds else None)
        if rule.kind == "rate_limit":
            headers = {
                "whoop": {
                    "X-RateLimit-Limit": self.whoop.limit_header,
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(rule.reset),
                },
                "no_remaining": {"X-RateLimit-Reset": str(rule.reset)},
                "retry_after": {"Retry-After": str(rule.reset)},
            }.get(rule.style, {})
            return json_response({"error": "too_many_requests", "message": "Rate limit exceeded"}, 429, headers)
        response = json_response({"error": "server_error", "message": f"Injected HTTP {rule.status}"}, rule.status)
        if provider == "whoop":
            response.headers.update(self.whoop.rate_headers(99, 60))
        return response

    # ---- the in-process API (the admin endpoints call the same methods) ----

    @property
    def requests(self) -> list[dict]:
        """A copy of the request log (admin calls are not logged)."""
        with self.lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self.lock:
            self._log.clear()

    def credentials(self, provider: str, person: int = 0) -> Credentials:
        """Client id/secret, the person's user id and base URLs of one stand-in."""
        who = self.people.identity(person)
        if provider == "whoop":
            return Credentials(
                "whoop", WHOOP_CLIENT_ID, WHOOP_CLIENT_SECRET, who.whoop_user_id, self.base_url, self.base_url
            )
        if provider == "withings":
            return Credentials(
                "withings",
                WITHINGS_CLIENT_ID,
                WITHINGS_CLIENT_SECRET,
                who.withings_userid,
                self.base_url,
                self.base_url,
            )
        raise ValueError(f"unknown provider {provider!r}; use whoop or withings")

    def mint_refresh_token(self, provider: str, person: int = 0) -> str:
        """A live refresh token of `person` for `provider`, as if they had just connected."""
        self.credentials(provider, person)
        with self.lock:
            auth = self.whoop_auth if provider == "whoop" else self.withings_auth
            return auth.mint_refresh_token(person)

    def sign_in(self, person: int) -> None:
        """Let `person` approve the authorize pages from now on (the browser's signed-in member)."""
        self.people.identity(person)
        with self.lock:
            self.people.signed_in = person

    def set_access_ttl(self, seconds: float, provider: str | None = None) -> None:
        """Issue access tokens of `provider` (or both) that live `seconds` from now on."""
        with self.lock:
            for name, auth in (("whoop", self.whoop_auth), ("withings", self.withings_auth)):
                if provider in (None, name):
                    auth.access_ttl = seconds

    def refresh_count(self, provider: str) -> int:
        """Refresh grants answered for `provider` since the start."""
        with self.lock:
            return (self.whoop_auth if provider == "whoop" else self.withings_auth).refreshes

    def expire_access_tokens(self, provider: str | None = None) -> None:
        """Make the access tokens of one provider (or both) expire now."""
        with self.lock:
            for name, auth in (("whoop", self.whoop_auth), ("withings", self.withings_auth)):
                if provider in (None, name):
                    auth.expire_access_tokens()

    def environment(self, mint_tokens: bool = True, person: int = 0) -> dict[str, str]:
        """The platform's environment variables pointing at this sandbox, with `person`'s tokens."""
        env: dict[str, str] = {}
        for provider in ("whoop", "withings"):
            creds, prefix = self.credentials(provider, person), provider.upper()
            env.update(
                {
                    f"{prefix}_API_BASE_URL": creds.api_base_url,
                    f"{prefix}_AUTH_BASE_URL": creds.auth_base_url,
                    f"{prefix}_CLIENT_ID": creds.client_id,
                    f"{prefix}_CLIENT_SECRET": creds.client_secret,
                    f"{prefix}_REDIRECT_URI": creds.redirect_uri,
                }
            )
            if mint_tokens:
                env[f"{prefix}_REFRESH_TOKEN"] = self.mint_refresh_token(provider, person)
        return env

    def advance_day(self, days: int = 1) -> list[dict]:
        """Add `days` new days to everyone (the pending day gets scored); person 0's summary per day."""
        with self.lock:
            return [self.people.advance_day() for _ in range(days)]

    def history_of(self, person: int = 0) -> History:
        """Person `person`'s history, to read: an unchanged one may be dropped and rebuilt later."""
        with self.lock:
            return self.people.life(person).history

    def rescore_latest(self, person: int = 0) -> int:
        """Re-score the newest scored day; returns its cycle id."""
        with self.lock:
            return self.people.pin(person).history.rescore_latest()

    def delete_record(self, collection: str, record_id: object, person: int = 0) -> dict:
        """Delete a WHOOP record (cycle, sleep with its recovery, recovery, workout)."""
        with self.lock:
            return self.people.pin(person).history.delete_whoop(collection, record_id)

    def delete_group(self, grpid: int, person: int = 0) -> None:
        """Delete a Withings measure group."""
        with self.lock:
            self.people.pin(person).history.delete_group(grpid)

    def add_weigh_in(self, kg: float, at: datetime | int | None = None, manual: bool = False, person: int = 0) -> int:
        """Add a weigh-in (scale, or manual attrib 2); returns its grpid."""
        with self.lock:
            return self.people.pin(person).history.add_weigh_in(kg, at, manual)

    def edit_weigh_in(self, grpid: int, kg: float, person: int = 0) -> int:
        """Change a weigh-in's weight and bump its `modified`; returns the new modified."""
        with self.lock:
            return self.people.pin(person).history.edit_weigh_in(grpid, kg)

    def edit_activity(self, day, steps: int, person: int = 0) -> int:
        """Change a day's Withings steps; its `modified` moves to now, which is returned."""
        with self.lock:
            return self.people.pin(person).daily.edit_activity(day, steps)

    def edit_sleep_score(self, day, score: int, person: int = 0) -> int:
        """Change the Withings sleep score of the night ending on `day`; returns the new `modified`."""
        with self.lock:
            return self.people.pin(person).daily.edit_sleep_score(day, score)

    def set_device(
        self, model: str, battery: str | None = None, last_session: int | None = None, person: int = 0
    ) -> dict:
        """Change a Withings device's battery level and/or last session (unix seconds); returns it."""
        with self.lock:
            return self.people.pin(person).series.set_device(model, battery, last_session)

    def edit_workout(self, workout_id: int, calories: int, person: int = 0) -> int:
        """Change a Withings workout's calories; returns its new `modified`."""
        with self.lock:
            return self.people.pin(person).series.edit_workout(workout_id, calories)

    def delete_workout(self, workout_id: int, person: int = 0) -> None:
        """Delete a Withings workout."""
        with self.lock:
            self.people.pin(person).series.delete_workout(workout_id)

    def deny_scope(self, provider: str, scope: str, denied: bool = True) -> None:
        """Answer the endpoints of `scope` as for a token granted without it (or grant it again)."""
        with self.lock:
            scopes = (self.whoop if provider == "whoop" else self.withings).denied_scopes
            scopes.add(scope) if denied else scopes.discard(scope)

    def state(self) -> dict:
        """The clock, counts, credentials and active faults."""
        with self.lock:
            who = self.people.identity(0)
            return {
                **self.history.summary(),
                "url": self.base_url,
                "people": self.people.summary(),
                "whoop": {
                    "client_id": WHOOP_CLIENT_ID,
                    "client_secret": WHOOP_CLIENT_SECRET,
                    "user_id": who.whoop_user_id,
                },
                "withings": {
                    "client_id": WITHINGS_CLIENT_ID,
                    "client_secret": WITHINGS_CLIENT_SECRET,
                    "userid": who.withings_userid,
                },
                "faults": self.faults.rules(),
                "latency_ms": self.faults.latency_ms,
                "token_clock_offset": self.token_clock.offset,
                "requests_logged": len(self._log),
                "refreshes": {"whoop": self.whoop_auth.refreshes, "withings": self.withings_auth.refreshes},
                "access_ttl": {"whoop": self.whoop_auth.access_ttl, "withings": self.withings_auth.access_ttl},
            }


def _alter(rule: FaultRule, response: Response) -> None:
    """Apply an altering fault to the stand-in's real answer (see FaultRule)."""
    if rule.kind == "trickle":
        response.trickle_ms = rule.ms or 1000
        return
    if rule.kind == "rate_limit":  # style "exhausted": the answer says the window is spent
        response.headers.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(rule.reset)})
        return
    try:
        payload = json.loads(response.body)
    except ValueError:
        return  # not a data page (an error page): nothing to alter
    if rule.kind == "repeat_token" and payload.get("next_token"):
        rule.memo = rule.memo or payload["next_token"]
        payload["next_token"] = rule.memo
    elif rule.kind == "alternate_offset" and isinstance(payload.get("body"), dict) and payload.get("status") == 0:
        count = int(rule.memo or 0)
        rule.memo = str(count + 1)
        payload["body"].update(more=1, offset=1 + count % 2)
    response.body = json.dumps(payload, separators=(",", ":")).encode()
