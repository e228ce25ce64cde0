"""First-time OAuth2 authorization-code flow with a one-shot callback server on 127.0.0.1."""
from __future__ import annotations

import html
import secrets
import string
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from api_clients.errors import ApiError, ReconnectRequired
from api_clients.oauth import Token, TokenStore, token_from_response

WHOOP_SCOPES = ("offline read:recovery read:cycles read:workout read:sleep read:profile "
                "read:body_measurement")  # no `offline`, no refresh token (api_facts.md §1.2)
WITHINGS_SCOPES = "user.metrics,user.activity"  # comma-separated for Withings (§2.1)
STATE_LENGTH = 8  # WHOOP: "The state parameter must be eight characters long"


def new_state() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(STATE_LENGTH))


def authorization_url(provider, state: str) -> str:
    """The page the user opens to approve access."""
    if provider.name == "whoop":
        base, scope = f"{provider.auth_base_url}/oauth/oauth2/auth", WHOOP_SCOPES
    else:
        base, scope = f"{provider.auth_base_url}/oauth2_user/authorize2", WITHINGS_SCOPES
    query = {"response_type": "code", "client_id": provider.client_id, "redirect_uri": provider.redirect_uri,
             "scope": scope, "state": state}
    return f"{base}?{urlencode(query)}"


class CallbackServer:
    """Waits for the one redirect that carries `code` and the expected `state`."""

    def __init__(self, redirect_uri: str, state: str):
        parts = urlsplit(redirect_uri)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"redirect URI {redirect_uri!r} must point at 127.0.0.1 for the local callback")
        self.path, self.state = parts.path or "/", state
        self.code: str | None = None
        self.error: str | None = None
        self.done = threading.Event()
        self.httpd = HTTPServer(("127.0.0.1", parts.port or 80), self._handler())

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != outer.path:
                    return self._reply(404, "Not the callback.")
                if query.get("state") != outer.state:  # a forged or stale redirect (CSRF)
                    outer.error = "the callback's state does not match: rejected"
                elif "code" not in query:
                    outer.error = f"authorization refused: {query.get('error', 'no code')}"[:200]
                else:
                    outer.code = query["code"]
                outer.done.set()
                self._reply(400 if outer.error else 200,
                            outer.error or "Connected. You can close this tab and return to the terminal.")

            def _reply(self, status: int, text: str) -> None:
                body = f"<!doctype html><title>WHOOP Data Platform</title><p>{html.escape(text)}</p>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # the query holds the code: never log it
                return

        return Handler

    def wait(self, timeout: float) -> str:
        """The authorization code; raises on timeout, refusal or a state mismatch."""
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            if not self.done.wait(timeout):
                raise TimeoutError(f"no authorization arrived within {timeout:.0f}s")
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
        if self.error:
            raise ApiError("oauth", self.error)
        return self.code


def exchange_code(provider, code: str, timeout: float = 30.0) -> Token:
    """Trade the code for tokens at once (a Withings code lives 30 seconds)."""
    if provider.name == "whoop":
        url, data = f"{provider.api_base_url}/oauth/oauth2/token", {}
    else:
        url, data = f"{provider.api_base_url}/v2/oauth2", {"action": "requesttoken"}
    data.update(grant_type="authorization_code", code=code, redirect_uri=provider.redirect_uri,
                client_id=provider.client_id, client_secret=provider.client_secret)
    response = requests.post(url, data=data, timeout=timeout)
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if provider.name == "withings":  # errors as HTTP 200 with a body status (§2.2)
        if body.get("status") != 0:
            raise ReconnectRequired(provider.name, f"the code exchange failed (status {body.get('status')})")
        body = body.get("body") or {}
    elif response.status_code != 200:
        raise ReconnectRequired(provider.name, f"the code exchange failed (HTTP {response.status_code})")
    token = token_from_response(body)
    if not token.refresh_token:
        raise ApiError(provider.name, "no refresh token was issued (was the `offline` scope granted?)")
    return token


def _whoop_user_id(provider, token: Token, timeout: float) -> int:
    response = requests.get(f"{provider.api_base_url}/developer/v2/user/profile/basic", timeout=timeout,
                            headers={"Authorization": f"Bearer {token.access_token}"})
    if response.status_code != 200:
        raise ApiError("whoop", f"profile: HTTP {response.status_code}")
    return int(response.json()["user_id"])


def connect(provider, store: TokenStore, *, open_browser: bool = True, timeout: float = 300,
            print_fn: Callable[[str], None] = print) -> Token:
    """Run the whole first-time flow and store the token; returns it."""
    state = new_state()
    server = CallbackServer(provider.redirect_uri, state)  # listening before the user can be redirected
    url = authorization_url(provider, state)
    print_fn(f"Open this address to authorize {provider.name}:")
    print_fn(url)
    if open_browser:
        webbrowser.open(url)
    code = server.wait(timeout)
    token = exchange_code(provider, code)
    if token.user_id is None and provider.name == "whoop":
        token.user_id = _whoop_user_id(provider, token, timeout=30)
    with store.refresh_lock(provider.name):
        store.save(provider.name, token)
    return token
