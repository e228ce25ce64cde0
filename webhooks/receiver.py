"""The receiver's ASGI application: verified, size-capped, rate-limited, committed before it answers.

Nothing a sender wrote comes back in an answer or a log line: every body below is a constant,
and the access log names the route, never the path (the Withings path holds a secret).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Protocol

import anyio
import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from configuration import clock
from storage.inbound import InboundEvent
from webhooks.payloads import PayloadError, whoop_event, withings_event
from webhooks.ratelimit import DEFAULT_PER_MINUTE, RateLimiter
from webhooks.sink import Outcome
from webhooks.verify import path_secret_matches, whoop_refusal

log = logging.getLogger("webhooks")
access_log = logging.getLogger("webhooks.access")

MAX_BODY = 64 * 1024
# WHOOP wants a 2xx "quickly" and Withings within 2 s; a commit still running at these deadlines
# is answered 503, so the sender retries what we could not yet promise to keep (and the retry is
# deduplicated if the commit lands after all).
WHOOP_DEADLINE = 0.8
WITHINGS_DEADLINE = 1.6
STORE_THREADS = 8  # commits in flight; a stuck database holds these, never the server's own threads
WITHINGS_ROUTE = "/webhooks/withings/{secret}"


class Sink(Protocol):
    def accept(self, event: InboundEvent) -> Outcome: ...


@dataclass(frozen=True)
class ReceiverConfig:
    """What the receiver checks against; a provider without its secret answers 404."""

    whoop_client_secret: str | None
    withings_path_secret: str | None
    rate_per_minute: int = DEFAULT_PER_MINUTE
    whoop_deadline: float = WHOOP_DEADLINE
    withings_deadline: float = WITHINGS_DEADLINE


def _text(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(text + "\n", status, headers=headers)


ACCEPTED = _text(200, "ok")
NOT_FOUND = _text(404, "Not Found")


class _TooLarge(Exception):
    """The body passed MAX_BODY."""


async def _read_capped(request: Request) -> bytes:
    """The body; _TooLarge once it passes MAX_BODY (read no further: a huge body is never held)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _body(request: Request, what: str) -> bytes | Response:
    """The capped body, or the answer that refuses it."""
    try:
        return await _read_capped(request)
    except _TooLarge:
        log.warning("%s refused: body over %d bytes", what, MAX_BODY)
        return _text(413, "Payload Too Large")
    except ClientDisconnect:
        return _text(400, "Bad Request")  # the sender left mid-body: nobody hears this answer


class Receiver:
    """The handlers, with their sink, limits and clock."""

    def __init__(self, config: ReceiverConfig, sink: Sink, limiter: RateLimiter | None = None) -> None:
        self.config = config
        self.sink = sink
        self.limiter = limiter or RateLimiter(config.rate_per_minute)
        self._threads = anyio.CapacityLimiter(STORE_THREADS)

    def limited(self, request: Request) -> Response | None:
        """The 429 for a client over its rate, else None (its request goes on)."""
        client = request.client.host if request.client else "unknown"
        wait = self.limiter.wait_for(client)
        if wait <= 0:
            return None
        return _text(429, "Too Many Requests", {"Retry-After": str(max(1, math.ceil(wait)))})

    async def _commit(self, event: InboundEvent, deadline: float) -> Response:
        """Commit, then answer 200; 503 when the database fails or is not done by the deadline."""
        outcome = None
        with anyio.move_on_after(deadline):
            try:
                outcome = await anyio.to_thread.run_sync(
                    _accept_logged, self.sink.accept, event, abandon_on_cancel=True, limiter=self._threads
                )
            except SQLAlchemyError:
                return _text(503, "Service Unavailable", {"Retry-After": "60"})
        if outcome is None:
            log.warning(
                "%s event not committed within %.1f s: answered 503, the sender retries", event.provider, deadline
            )
            return _text(503, "Service Unavailable", {"Retry-After": "60"})
        if outcome is Outcome.UNKNOWN_USER:
            log.info("%s event for user id %d, which no account holds: ignored", event.provider, event.user_id)
        else:
            log.info("%s event %s (%s)", event.provider, outcome.value, event.event_type or f"appli {event.appli}")
        return ACCEPTED

    async def whoop(self, request: Request) -> Response:
        """POST /webhooks/whoop: a signed WHOOP v2 webhook."""
        secret = self.config.whoop_client_secret
        if not secret:
            return NOT_FOUND
        body = await _body(request, "whoop webhook")
        if isinstance(body, Response):
            return body
        reason = whoop_refusal(
            secret,
            request.headers.get("x-whoop-signature-timestamp"),
            request.headers.get("x-whoop-signature"),
            body,
            clock.utcnow(),
        )
        if reason:
            log.warning("whoop webhook refused: %s", reason)
            return _text(401, "Unauthorized")
        try:
            event = whoop_event(body)
        except PayloadError as exc:
            log.warning("whoop webhook refused: %s", exc)
            return _text(400, "Bad Request")
        return await self._commit(event, self.config.whoop_deadline)

    async def withings(self, request: Request) -> Response:
        """HEAD and POST /webhooks/withings/{secret}: Withings' check of the URL, and a notification."""
        if not path_secret_matches(request.path_params["secret"], self.config.withings_path_secret):
            return NOT_FOUND  # the same answer as any unknown path: a guess learns nothing
        if request.method == "HEAD":
            return ACCEPTED
        body = await _body(request, "withings notification")
        if isinstance(body, Response):
            return body
        try:
            event = withings_event(body)
        except PayloadError as exc:
            log.warning("withings notification refused: %s", exc)
            return _text(400, "Bad Request")
        return await self._commit(event, self.config.withings_deadline)

    async def healthz(self, request: Request) -> Response:
        """GET /healthz: the process answers (probes)."""
        return _text(200, "ok")


def _accept_logged(accept: Callable[[InboundEvent], Outcome], event: InboundEvent) -> Outcome:
    # Runs on a worker thread that a deadline may abandon: its failure is logged here, since
    # nobody may be waiting for it any more.
    try:
        return accept(event)
    except SQLAlchemyError as exc:
        log.error("%s event not stored: %s", event.provider, str(getattr(exc, "orig", None) or exc).splitlines()[0])
        raise


def _route_label(path: str) -> str:
    """The access log's name for a path: the route, never the path itself (a secret, or input)."""
    if path in ("/webhooks/whoop", "/healthz"):
        return path
    if path.startswith("/webhooks/withings/"):
        return "/webhooks/withings/[secret]"
    return "[other path]"


class _Guard:
    """Rate limit (health probes aside) and the access log, around the whole application."""

    def __init__(self, app, receiver: Receiver) -> None:
        self.app, self.receiver = app, receiver

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 0}

        async def send_logged(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        request = Request(scope)
        refused = None if scope["path"] == "/healthz" else self.receiver.limited(request)
        await (refused or self.app)(scope, receive, send_logged)
        client = request.client.host if request.client else "-"
        access_log.info('%s "%s %s" %d', client, scope["method"], _route_label(scope["path"]), status["code"])


def create_app(config: ReceiverConfig, sink: Sink, limiter: RateLimiter | None = None):
    """The receiver as an ASGI application (uvicorn serves it; tests call it directly)."""
    receiver = Receiver(config, sink, limiter)
    app = Starlette(
        routes=[
            Route("/webhooks/whoop", receiver.whoop, methods=["POST"]),
            Route(WITHINGS_ROUTE, receiver.withings, methods=["HEAD", "POST"]),
            Route("/healthz", receiver.healthz, methods=["GET"]),
        ]
    )
    return _Guard(app, receiver)
