"""A read-only HTTP server on the standard library: GET and HEAD only, loopback by default."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import sys
import threading
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from dashboard import assets, render
from dashboard.summary import empty_summary, load_summary
from storage.accounts import UnknownAccount
from storage.engine import make_engine, safe_url

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}
# An idle or trickling connection is dropped after this, so it cannot hold a thread for good.
CONNECTION_TIMEOUT = 10.0
SECURITY_HEADERS = {
    # Our scripts only, from this server; plotly sets inline styles on the SVG it draws.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class DashboardServer(ThreadingHTTPServer):
    """The HTTP server plus the read-only engine and the URL it is reachable at."""

    daemon_threads = True

    def __init__(
        self,
        address,
        engine: Engine,
        database_url: str,
        connection_timeout: float = CONNECTION_TIMEOUT,
        account: str | None = None,
    ):
        self.engine = engine  # first: a failed bind calls server_close(), which disposes it
        self.account = account  # the page's account when the address names none (None: the first)
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.connection_timeout = connection_timeout
        super().__init__(address, DashboardHandler)
        self.allowed_hosts = allowed_host_names(address[0], self.server_address[0])
        self.any_address = ipaddress.ip_address(self.server_address[0]).is_unspecified
        self.database_label = safe_url(database_url)
        parsed = make_url(database_url)
        self.sqlite_file = (
            Path(parsed.database)
            if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
            else None
        )

    def handle_error(self, request, client_address) -> None:
        # A browser that closes the tab mid-response resets the connection: not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def summary(self, account: str | None = None) -> dict:
        """The page's data of `account` (else the server's, else the first); a SQLite file the ETL
        has not created yet is an empty database. UnknownAccount for a name that does not exist."""
        if self.sqlite_file is not None and not self.sqlite_file.exists():
            return empty_summary()
        return load_summary(self.engine, account=account or self.account)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    def server_close(self) -> None:
        super().server_close()
        self.engine.dispose()


class DashboardHandler(BaseHTTPRequestHandler):
    """Routes: / (the page), /api/summary (its data), /static/* (CSS, JS, the chart library)."""

    server: DashboardServer
    server_version = "WhoopDashboard"
    sys_version = ""

    def setup(self) -> None:
        self.timeout = self.server.connection_timeout  # StreamRequestHandler sets it on the socket
        super().setup()

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _not_allowed(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            b"405 Method Not Allowed: this dashboard is read-only\n",
            "text/plain; charset=utf-8",
            extra={"Allow": "GET, HEAD"},
        )

    def __getattr__(self, name: str):
        # http.server looks up do_<METHOD>: every method but GET and HEAD gets a 405, not a 501.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _dispatch(self, head: bool) -> None:
        try:
            self._route(head)
        except (ConnectionError, TimeoutError) as exc:  # the client went away: there is no one to answer
            log.info(
                "dashboard client %s went away during %s (%s)",
                self.address_string(),
                urlsplit(self.path).path,
                type(exc).__name__,
            )
            self.close_connection = True
        except Exception:
            log.exception("dashboard request %s failed", self.path)
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                b"500 Internal Server Error: see the dashboard's log\n",
                "text/plain; charset=utf-8",
                head=head,
            )

    def _route(self, head: bool) -> None:
        if not self._host_allowed():
            self._send(HTTPStatus.MISDIRECTED_REQUEST, b"unknown Host\n", "text/plain; charset=utf-8")
            return
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._page(head)
        elif path == "/api/summary":
            self._summary(head)
        elif (found := assets.resolve(path)) is not None:
            self._static(*found, head=head)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"404 Not Found\n", "text/plain; charset=utf-8", head=head)

    def _host_allowed(self) -> bool:
        # DNS rebinding: a page elsewhere must not read this data through a name that resolves
        # to this machine, so the server answers only the names and addresses it is bound to.
        name = host_name(self.headers.get("Host") or "")
        if name in self.server.allowed_hosts:
            return True
        return self.server.any_address and is_local_address(name)

    def _account(self) -> str | None:
        """The `account` of the address (`/?account=alice`), or None."""
        values = parse_qs(urlsplit(self.path).query).get("account")
        return values[-1] if values else None

    def _page(self, head: bool) -> None:
        try:
            summary = self.server.summary(self._account())
        except UnknownAccount as exc:
            html = render.error_page(str(exc), self.server.database_label, title="No such account")
            self._send(HTTPStatus.NOT_FOUND, html.encode(), "text/html; charset=utf-8", head=head)
            return
        except SQLAlchemyError as exc:
            html = render.error_page(_describe(exc), self.server.database_label)
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, html.encode(), "text/html; charset=utf-8", head=head)
            return
        html = render.dashboard_page(summary, self.server.database_label)
        self._send(HTTPStatus.OK, html.encode(), "text/html; charset=utf-8", head=head)

    def _summary(self, head: bool) -> None:
        try:
            status, body = HTTPStatus.OK, self.server.summary(self._account())
        except UnknownAccount as exc:
            status, body = HTTPStatus.NOT_FOUND, {"error": str(exc)}
        except SQLAlchemyError as exc:
            status, body = HTTPStatus.SERVICE_UNAVAILABLE, {"error": _describe(exc)}
        data = json.dumps(body, separators=(",", ":")).encode()
        self._send(status, data, "application/json", head=head)

    def _static(self, path, content_type: str, immutable: bool, *, head: bool) -> None:
        cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
        self._send(HTTPStatus.OK, path.read_bytes(), content_type, head=head, extra={"Cache-Control": cache})

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, *, head: bool = False, extra: dict | None = None
    ) -> None:
        self.send_response(status)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-store",
            **SECURITY_HEADERS,
            **(extra or {}),
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def _describe(exc: SQLAlchemyError) -> str:
    """One line about a database error, with no SQL, parameters or traceback."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    message = f"{type(cause).__name__}: {lines[0] if lines else 'unknown error'}"
    log.warning("dashboard cannot read the database: %s", message)
    return message


class DashboardUnavailable(RuntimeError):
    """The dashboard cannot listen on the address asked for; the message names host and port."""


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name or address of a Host header, without its port or IPv6 brackets, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def allowed_host_names(asked: str, bound: str) -> frozenset[str]:
    """The Host names a server bound to `bound` (asked for as `asked`) answers."""
    names = {asked.strip("[]").lower(), bound.lower()}
    if is_loopback(bound):
        return frozenset(names | {n.strip("[]") for n in LOOPBACK_NAMES})
    machine = socket.gethostname().lower()
    return frozenset(names | {machine, f"{machine}.local", socket.getfqdn().lower()})


def is_local_address(name: str) -> bool:
    """True when `name` is an IP address of this machine (a socket can bind to it)."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:
            return False
    return True


def make_server(
    database_url: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    connection_timeout: float = CONNECTION_TIMEOUT,
    account: str | None = None,
) -> DashboardServer:
    """A bound, not yet serving dashboard server (port 0 picks a free port); call serve_forever().
    `account`: the one the page shows first (default: the first account)."""
    engine = make_engine(database_url, read_only=True)
    host = host.strip("[]")  # [::1] as in a URL
    try:
        return DashboardServer((host, port), engine, database_url, connection_timeout, account)
    except OSError as exc:
        engine.dispose()
        hint = f"; choose another one with --port, e.g. --port {port + 1}" if port else ""
        raise DashboardUnavailable(
            f"the dashboard cannot listen on {host} port {port} ({exc.strerror or exc}){hint}"
        ) from None


def network_warning(host: str) -> str | None:
    """The warning for a bind address other machines can reach, or None for loopback."""
    if is_loopback(host):
        return None
    return (
        f"warning: the dashboard has no authentication, and {host} is reachable from the network: "
        "anyone who can reach this port can read your health data. Use --host 127.0.0.1 unless "
        "you mean that."
    )


def serve(
    database_url: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    open_browser: bool = False,
    account: str | None = None,
) -> None:
    """Serve the dashboard until Ctrl-C, printing its address first."""
    server = make_server(database_url, host, port, account=account)
    if account is not None:  # an unknown name stops here, listing the accounts, not on every page
        try:
            server.summary()
        except UnknownAccount:
            server.server_close()
            raise
        except SQLAlchemyError:  # the database is down: the page says so, and recovers with it
            log.debug("dashboard: the account's data is not readable yet", exc_info=True)
    if (warning := network_warning(host)) is not None:
        print(warning, file=sys.stderr, flush=True)
    print(f"Dashboard on {server.url} (read-only: {server.database_label}); Ctrl-C to stop.", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(server.url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nDashboard stopped.")
    finally:
        server.server_close()
