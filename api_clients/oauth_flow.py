"""First-time OAuth2 authorization-code flow with a callback server on 127.0.0.1.

The provider's own client builds the authorization URL, exchanges the code and finds the user
id (api_clients/providers.py); this module only runs the local callback and stores the token.
"""

from __future__ import annotations

import html
import logging
import secrets
import string
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from api_clients.errors import ApiError
from api_clients.oauth import Token, TokenStore
from api_clients.providers import make_client

log = logging.getLogger(__name__)

STATE_LENGTH = 8  # WHOOP: "The state parameter must be eight characters long"
CONNECTION_TIMEOUT = 10.0  # an idle or slow local connection is dropped after this, never blocks the redirect
EXCHANGE_GRACE = 120.0  # a redirect that arrived in time may finish its code exchange after --timeout


def new_state() -> str:
    """A random 8-character state for one authorization."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(STATE_LENGTH))


class CallbackServer:
    """Serves the redirect: checks `state`, runs `complete(code)`, and only then answers the browser.

    Connections are served concurrently, each with its own timeout, so an idle connection (a
    browser's preconnect, a port scanner) cannot hold up the real redirect.
    """

    def __init__(self, provider: str, redirect_uri: str, state: str, complete: Callable[[str], Token]):
        parts = urlsplit(redirect_uri)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"redirect URI {redirect_uri!r} must point at 127.0.0.1 for the local callback")
        self.provider, self.path, self.state, self.complete = provider, parts.path or "/", state, complete
        self.token: Token | None = None
        self.error: BaseException | None = None
        self.received, self.done = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", parts.port or 80), self._handler())
        self.httpd.daemon_threads, self.httpd.block_on_close = True, False

    def handle(self, query: dict[str, str]) -> tuple[int, str]:
        """(HTTP status, page text) for one callback request; the first one with our state ends the flow."""
        if query.get("state") != self.state:
            # A forged or stale redirect (CSRF; any page can send one with an <img>): refused,
            # and the flow keeps waiting, so it cannot cost the user's real redirect.
            log.warning(
                "%s: a callback request with a %s state was refused (400); still waiting for the authorization",
                self.provider,
                "wrong" if query.get("state") else "missing",
            )
            return 400, "This request does not match the authorization in progress: ignored."
        with self._lock:
            if self.done.is_set():
                return 409, "This authorization was already handled; see the terminal."
            self.received.set()
            try:
                if "code" not in query:
                    raise ApiError(self.provider, f"authorization refused: {query.get('error', 'no code')}"[:200])
                self.token = self.complete(query["code"])
            except Exception as exc:
                self.error = exc
            finally:
                self.done.set()
        if self.error is None:
            return 200, f"{self.provider} connected. You can close this tab and return to the terminal."
        reason = str(self.error) if isinstance(self.error, ApiError) else "see the terminal"
        return 400, f"Connecting failed: {reason}"

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            timeout = CONNECTION_TIMEOUT  # socket timeout per connection (StreamRequestHandler)

            def do_GET(self):
                url = urlsplit(self.path)
                if url.path != outer.path:
                    return self._reply(404, "Not the callback.")
                status, text = outer.handle({k: v[0] for k, v in parse_qs(url.query).items()})
                self._reply(status, text)

            def _reply(self, status: int, text: str) -> None:
                body = f"<!doctype html><title>WHOOP Data Platform</title><p>{html.escape(text)}</p>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # the query holds the code: never log it
                return

        return Handler

    def wait(self, timeout: float) -> Token:
        """The stored token; raises on timeout, refusal, a state mismatch or a failed exchange."""
        thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        try:
            arrived = self.done.wait(timeout) or (self.received.is_set() and self.done.wait(EXCHANGE_GRACE))
            if not arrived:
                raise TimeoutError(f"no authorization arrived within {timeout:.0f}s")
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
        if self.error is not None:
            raise self.error
        return self.token


def complete_with(client, store: TokenStore) -> Callable[[str], Token]:
    """Exchange a code with `client`, find the user id, and store the token (before the browser hears)."""

    def complete(code: str) -> Token:
        token = client.exchange_code(code)
        if not token.refresh_token:
            raise ApiError(client.name, "no refresh token was issued (was the `offline` scope granted?)")
        token.user_id = token.user_id or client.fetch_user_id(token)
        with store.refresh_lock(client.name):
            store.save(client.name, token)
        return token

    return complete


def connect(
    provider,
    store: TokenStore,
    *,
    scopes: Iterable[str] = (),
    open_browser: bool = True,
    timeout: float = 300,
    print_fn: Callable[[str], None] = print,
    http_timeout: float = 30.0,
) -> Token:
    """Run the whole first-time flow for `provider` (ProviderSettings), asking for `scopes` besides the
    client's own, and store the token; returns it."""
    client = make_client(provider, store, timeout=http_timeout)
    state = new_state()
    server = CallbackServer(provider.name, provider.redirect_uri, state, complete_with(client, store))
    url = client.authorization_url(state, scopes)  # the server listens before the user can be redirected
    print_fn(f"Open this address to authorize {provider.name}:")
    print_fn(url)
    if open_browser:
        webbrowser.open(url)
    return server.wait(timeout)
