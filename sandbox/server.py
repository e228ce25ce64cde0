"""SandboxServer: the sandbox on 127.0.0.1 in a background thread (port 0 picks a free port)."""

from __future__ import annotations

import socket
import sys
import threading
import time
import traceback
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .app import Credentials, SandboxApp, SandboxOptions
from .faults import FaultRule
from .history import History
from .person import Identity
from .web import Request, json_response, parse_pairs


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs; every answer has a Content-Length
    # Headers and body go out in two writes: with Nagle's algorithm on, the body waits for the
    # client's delayed ACK on every keep-alive request, which would time the sandbox, not the client.
    disable_nagle_algorithm = True
    server_version = "WhoopWithingsSandbox/1.0"

    def do_GET(self) -> None:
        """Every method goes through the same dispatcher."""
        self._handle()

    do_POST = do_DELETE = do_PUT = do_GET

    def _request(self) -> Request:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        ctype = (self.headers.get("Content-Type") or "").lower()
        is_form = "x-www-form-urlencoded" in ctype or (not ctype and body and not body.startswith(b"{"))
        form = parse_pairs(body.decode("utf-8", "replace")) if is_form else {}
        headers = {key.lower(): value for key, value in self.headers.items()}
        return Request(self.command, url.path, parse_pairs(url.query), form, headers, body)

    def _handle(self) -> None:
        request = self._request()
        try:
            response = self.server.app.dispatch(request)
        except Exception:  # a sandbox bug: answer 500 and show the traceback rather than hang the client
            traceback.print_exc(file=sys.stderr)
            response = json_response({"error": "sandbox_internal_error"}, 500)
        if response.drop:  # close without a status line: the client sees a dropped connection
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client may already be gone
            return
        if response.trickle_ms:
            self._trickle(response)
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (killed or timed out): nothing to send

    def _trickle(self, response) -> None:
        """Send the whole answer one byte at a time (a server a read timeout never catches)."""
        head = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}"]
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        head += [f"Content-Length: {len(response.body)}", "Connection: close", "", ""]
        self.close_connection = True
        for byte in "\r\n".join(head).encode() + response.body:
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return  # the client gave up (its deadline): stop trickling
            time.sleep(response.trickle_ms / 1000)

    def log_message(self, format: str, *args) -> None:
        """Log requests to stderr only when verbose."""
        if self.server.verbose:
            super().log_message(format, *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, app: SandboxApp, verbose: bool) -> None:
        self.app, self.verbose = app, verbose
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        # A client killed mid-request (the SIGKILL tests, Ctrl-C) resets its connection: that
        # is the client's doing, not a sandbox error, so no traceback unless verbose.
        if self.verbose or not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class SandboxServer:
    """The WHOOP and Withings stand-ins on one port; use as a context manager in tests.

    Options (all keyword): seed, days, now, latency_ms, fault_seed, whoop_rate_limit,
    whoop_rate_window, withings_rate_limit, withings_page_size, whoop_access_ttl,
    withings_access_ttl, people, held_histories, whoop_daily_limit, rate_clock (see SandboxOptions),
    plus host/port. With `people=N`, methods that take `person` act for that person (default 0).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, verbose: bool = False, **options) -> None:
        self.app = SandboxApp(SandboxOptions(**options))
        self._httpd = _HTTPServer((host, port), self.app, verbose)
        self.host, self.port = self._httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.app.base_url = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=f"sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until shutdown() or an interrupt."""
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.app.push.close()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def history(self) -> History:
        """Person 0's generated history (records, clock, mutations)."""
        return self.app.history

    def history_of(self, person: int = 0) -> History:
        """Person `person`'s history, to read (change it through the methods that take `person`)."""
        return self.app.history_of(person)

    @property
    def people(self) -> list[Identity]:
        """Every sandbox person's user ids and profile, person 0 first."""
        return [self.app.people.identity(index) for index in range(self.app.people.count)]

    def sign_in(self, person: int) -> None:
        """Let `person` approve the authorize pages from now on (whose browser session it is)."""
        self.app.sign_in(person)

    @property
    def requests(self) -> list[dict]:
        """The request log: provider, method, path, query, form, authorization, status, fault, person."""
        return self.app.requests

    def clear_requests(self) -> None:
        """Empty the request log."""
        self.app.clear_requests()

    @property
    def whoop_credentials(self) -> Credentials:
        """Client id/secret, user id 10129 and base URLs for WHOOP."""
        return self.app.credentials("whoop")

    @property
    def withings_credentials(self) -> Credentials:
        """Client id/secret, userid 3141592 and base URLs for Withings."""
        return self.app.credentials("withings")

    def credentials(self, provider: str, person: int = 0) -> Credentials:
        """Client id/secret, `person`'s user id and base URLs for 'whoop' or 'withings'."""
        return self.app.credentials(provider, person)

    def mint_refresh_token(self, provider: str, person: int = 0) -> str:
        """A live refresh token of `person` for 'whoop' or 'withings' (headless setup)."""
        return self.app.mint_refresh_token(provider, person)

    def environment(self, mint_tokens: bool = True, person: int = 0) -> dict[str, str]:
        """WHOOP_*/WITHINGS_* variables that point the platform at this server, with `person`'s tokens."""
        return self.app.environment(mint_tokens, person)

    def advance_day(self, days: int = 1) -> list[dict]:
        """Add `days` new days; the pending day becomes SCORED. One summary per day."""
        return self.app.advance_day(days)

    def rescore_latest(self, person: int = 0) -> int:
        """Re-score the newest scored day (late rescoring); returns its cycle id."""
        return self.app.rescore_latest(person)

    def delete_record(self, collection: str, record_id: object, person: int = 0) -> dict:
        """Delete a WHOOP record as the app does (a sleep takes its recovery with it)."""
        return self.app.delete_record(collection, record_id, person)

    def delete_group(self, grpid: int, person: int = 0) -> None:
        """Delete a Withings measure group as Health Mate does."""
        self.app.delete_group(grpid, person)

    def add_weigh_in(self, kg: float, at: datetime | int | None = None, manual: bool = False, person: int = 0) -> int:
        """Add a weigh-in at `at` (default: now); returns its grpid."""
        return self.app.add_weigh_in(kg, at, manual, person)

    def edit_weigh_in(self, grpid: int, kg: float, person: int = 0) -> int:
        """Change a weigh-in's weight; `modified` moves to now, which is returned."""
        return self.app.edit_weigh_in(grpid, kg, person)

    def edit_activity(self, day, steps: int, person: int = 0) -> int:
        """Change a day's Withings steps; returns the new `modified`."""
        return self.app.edit_activity(day, steps, person)

    def edit_sleep_score(self, day, score: int, person: int = 0) -> int:
        """Change the Withings sleep score of the night ending on `day`; returns the new `modified`."""
        return self.app.edit_sleep_score(day, score, person)

    def set_device(
        self, model: str, battery: str | None = None, last_session: int | None = None, person: int = 0
    ) -> dict:
        """Change a Withings device's battery ("high", "medium", "low") and/or last session (unix)."""
        return self.app.set_device(model, battery, last_session, person)

    def edit_workout(self, workout_id: int, calories: int, person: int = 0) -> int:
        """Change a Withings workout's calories; `modified` moves to now, which is returned."""
        return self.app.edit_workout(workout_id, calories, person)

    def delete_workout(self, workout_id: int, person: int = 0) -> None:
        """Delete a Withings workout as Health Mate does (nothing announces it)."""
        self.app.delete_workout(workout_id, person)

    def deny_scope(self, provider: str, scope: str, denied: bool = True) -> None:
        """Answer `scope`'s endpoints as for a token granted without it (denied=False grants it again)."""
        self.app.deny_scope(provider, scope, denied)

    def add_fault(self, kind: str, path: str = "/", **options) -> FaultRule:
        """Inject a fault (see FaultRule); returns the rule."""
        return self.app.faults.add(kind, path, **options)

    def reset_faults(self) -> None:
        """Remove every injected fault."""
        self.app.faults.reset()

    def expire_access_tokens(self, provider: str | None = None) -> None:
        """Expire the access tokens of "whoop", "withings" or (None) both."""
        self.app.expire_access_tokens(provider)

    def set_access_ttl(self, seconds: float, provider: str | None = None) -> None:
        """Issue access tokens of "whoop", "withings" or (None) both that live `seconds`."""
        self.app.set_access_ttl(seconds, provider)

    def refresh_count(self, provider: str) -> int:
        """How many refresh grants the sandbox answered for `provider`."""
        return self.app.refresh_count(provider)

    def advance_token_clock(self, seconds: float) -> None:
        """Move the token clock (code and token lifetimes, Withings' 8-hour grace) forward."""
        with self.app.lock:
            self.app.token_clock.advance(seconds)

    @property
    def push(self):
        """The pusher: `sb.push.configure(whoop_url=..., withings_url=...)`, `add_fault`, `wait_idle`, `log`."""
        return self.app.push

    def state(self) -> dict:
        """Clock, counts, credentials and faults (as GET /_sandbox/state)."""
        return self.app.state()
