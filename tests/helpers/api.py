"""Shared pieces of the API client tests: settings, stores, fixtures, a no-wait sleep."""

from __future__ import annotations

import itertools
import json
import threading
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from api_clients.oauth import Token
from configuration.settings import ProviderSettings
from sandbox.web import Response


class MemoryTokenStore:
    """A TokenStore in memory, for tests in one process."""

    def __init__(self, tokens: dict[str, Token] | None = None):
        self.tokens = dict(tokens or {})
        self.saves: list[tuple[str, Token]] = []
        self._lock = threading.RLock()

    def load(self, provider: str) -> Token | None:
        with self._lock:
            token = self.tokens.get(provider)
            return replace(token) if token else None

    def save(self, provider: str, token: Token) -> None:
        with self._lock:
            self.tokens[provider] = replace(token)
            self.saves.append((provider, replace(token)))

    save_rotated = save

    @contextmanager
    def refresh_lock(self, provider: str) -> Iterator[None]:
        with self._lock:
            yield


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
WHOOP_URL = "https://whoop.test"
WITHINGS_URL = "https://withings.test"
OLD_ACCESS = {"whoop": "whoop-access-OLD-1a2b3c", "withings": "withings-access-OLD-4d5e6f"}
OLD_REFRESH = {"whoop": "whoop-refresh-OLD-aa11bb", "withings": "withings-refresh-OLD-cc22dd"}
CLIENT_SECRET = "client-secret-zz99yy"


def fixture(path: str) -> dict:
    return json.loads((FIXTURES / path).read_text())


def provider(name: str) -> ProviderSettings:
    base = WHOOP_URL if name == "whoop" else WITHINGS_URL
    return ProviderSettings(
        name=name,
        api_base_url=base,
        auth_base_url=base,
        redirect_uri="http://127.0.0.1:8765/callback",
        client_id=f"{name}-client",
        client_secret=CLIENT_SECRET,
    )


def store_with(name: str, *, expired: bool = False, user_id: int | None = 10129) -> MemoryTokenStore:
    expires = datetime.now(timezone.utc) + (timedelta(seconds=-10) if expired else timedelta(hours=1))
    return MemoryTokenStore({name: Token(OLD_ACCESS[name], OLD_REFRESH[name], expires, "scope", user_id)})


class NoSleep:
    """Records the waits instead of waiting; `clock` is a monotonic clock the waits advance."""

    def __init__(self):
        self.calls: list[float] = []
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def requests_served(server, count: int, prefixes: tuple[str, ...]) -> threading.Event:
    """An event set once the sandbox `server` has answered `count` requests whose path starts
    with one of `prefixes`: what a test waits on to act in the middle of a run."""
    served, answered = threading.Event(), []
    dispatch = server.app.dispatch

    def counting(req):
        response = dispatch(req)
        if req.path.startswith(prefixes):
            answered.append(req.path)
            if len(answered) >= count:
                served.set()
        return response

    server.app.dispatch = counting
    return served


@contextmanager
def holding_request(server, number: int) -> Iterator[threading.Event]:
    """For the block, the sandbox `server` holds its `number`-th request (admin calls aside, from 1)
    unanswered: the event yielded is set once it arrives, so the client is then certainly still running,
    waiting for the answer. The held request is never served (the sandbox changes nothing for it, e.g.
    no token rotated for a client about to be killed): it is dropped when the block ends."""
    arrived, ended, seen = threading.Event(), threading.Event(), itertools.count(1)
    dispatch = server.app.dispatch

    def holding(req):
        if req.path.startswith("/_sandbox/") or next(seen) != number:
            return dispatch(req)
        arrived.set()
        ended.wait(120)  # bounded: a test that never ends its block must not hang the server thread
        return Response(drop=True)

    server.app.dispatch = holding
    try:
        yield arrived
    finally:
        server.app.dispatch = dispatch
        ended.set()
