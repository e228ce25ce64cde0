"""A running receiver over the test database, and a sandbox that pushes to it."""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from sqlalchemy import func, select

import models
from sandbox import WHOOP_CLIENT_SECRET, SandboxServer
from storage import accounts
from storage.engine import make_engine
from webhooks.receiver import ReceiverConfig, create_app
from webhooks.server import bind, uvicorn_server
from webhooks.sink import DatabaseSink

PATH_SECRET = "Xq3vT9mKp2Lw8Zr5Nb7Yc4Hd6Jf1Gs0A"  # 32 URL-safe characters: 192 bits
WHOOP_USER, WITHINGS_USER = 10129, 3141592  # sandbox person 0


@contextmanager
def running(app) -> Iterator[str]:
    """`app` on uvicorn on a free loopback port; yields its base URL. The socket listens before
    the server's loop starts, so a request made at once waits in the backlog (no start-up race)."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn_server(app, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def link_sandbox_users(engine) -> None:
    """The default account holds sandbox person 0 on both providers."""
    with engine.begin() as conn:
        account_id = accounts.ensure(conn)
        accounts.link(conn, account_id, "whoop", WHOOP_USER)
        accounts.link(conn, account_id, "withings", WITHINGS_USER)


def stored(engine) -> list:
    """Every inbound_event row, oldest first."""
    with engine.connect() as conn:
        return list(conn.execute(select(models.inbound_event).order_by(models.inbound_event.c.id)))


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(models.inbound_event)).scalar()


@dataclass
class Receiver:
    """A running receiver: its URLs and the database it writes."""

    url: str
    engine: object
    config: ReceiverConfig
    whoop_url: str = field(init=False)
    withings_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.whoop_url = f"{self.url}/webhooks/whoop"
        self.withings_url = f"{self.url}/webhooks/withings/{PATH_SECRET}"


def config(**overrides) -> ReceiverConfig:
    return ReceiverConfig(whoop_client_secret=WHOOP_CLIENT_SECRET, withings_path_secret=PATH_SECRET, **overrides)


@pytest.fixture
def receiver(db_url) -> Iterator[Receiver]:
    """The receiver on uvicorn over the test database, sandbox person 0 linked to an account."""
    engine = make_engine(db_url)
    link_sandbox_users(engine)
    settings = config()
    with running(create_app(settings, DatabaseSink(engine))) as url:
        yield Receiver(url, engine, settings)
    engine.dispose()


@pytest.fixture
def pushing(receiver) -> Iterator[SandboxServer]:
    """A sandbox (its clock a day behind) that pushes to `receiver`, retrying in a ten-thousandth of the time."""
    with SandboxServer(days=10, seed=7, now=datetime.now(timezone.utc) - timedelta(days=1)) as sb:
        sb.push.configure(whoop_url=receiver.whoop_url, withings_url=receiver.withings_url, time_scale=0.0001)
        yield sb


def asgi_call(app, method: str, path: str, headers: dict[str, str], body: bytes = b"", chunk: int = 0) -> tuple:
    """Call the ASGI `app` once, as uvicorn would; (status, headers, body). `chunk` splits the body."""
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk and body else [body]
    messages = [{"type": "http.request", "body": part, "more_body": i < len(parts) - 1} for i, part in enumerate(parts)]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("203.0.113.7", 40000),
        "server": ("receiver.test", 443),
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start.get("headers", [])), body_out
