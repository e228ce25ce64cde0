"""Ping a monitor when a run starts, succeeds or fails (the healthchecks.io convention); a ping never fails a run.

This sits in `sync`, beside the run it reports on: it is not a provider client (`api_clients`
speaks to WHOOP and Withings only) and reads nothing from the database, and `watch`
(sync/watch.py) pings through it too, which a module above `sync` could not offer.

healthchecks.io (and a self-hosted Healthchecks): `<url>/start`, `<url>` on success, `<url>/fail`.
An Uptime Kuma push URL (`.../api/push/<token>`) has one endpoint that reads `status=up|down`
and `msg` from the query string, so it gets those instead, and no start ping (Kuma has no
"running" state: an "up" at the start would clear an alert before the run has done anything).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from configuration.logs import redact

log = logging.getLogger("etl.healthcheck")
# A ping that fails is one warning line, and it reaches cron's mail under --quiet too (the
# monitor will report the missed ping; this line says why).
log.setLevel(logging.WARNING)
TIMEOUT_SECONDS = 5.0  # to connect, and for each read of the answer
# The whole of one ping, however slowly the monitor answers: requests' timeout bounds each
# socket read, not the answer, so a monitor trickling a byte at a time is cut off here.
DEADLINE_SECONDS = 10.0
JOIN_GRACE_SECONDS = 1.0  # a start ping cut off at its deadline still logs why, before the closing ping
MAX_REDIRECTS = 3  # on the monitor's own host only
BODY_LIMIT = 1000  # characters of the run's summary sent with a finishing ping (healthchecks.io logs it)
KUMA_MSG_LIMIT = 200  # Uptime Kuma shows `msg` in one table cell
KUMA_PUSH_PATH = "/api/push/"
USER_AGENT = "whoop-etl healthcheck"
_warned_plain_http: set[str] = set()  # hosts already warned about, once per process


def ping_request(url: str, kind: str, summary: str = "") -> tuple[str, str, bytes | None] | None:
    """(method, URL, body) of a "start", "success" or "fail" ping to `url`; None when the monitor takes no such ping."""
    parts = urlsplit(url)
    if KUMA_PUSH_PATH in parts.path:
        if kind == "start":
            return None
        query = urlencode({"status": "down" if kind == "fail" else "up", "msg": summary[:KUMA_MSG_LIMIT] or "OK"})
        return "GET", urlunsplit(parts._replace(query=query)), None
    path = parts.path.rstrip("/") + ("" if kind == "success" else f"/{kind}")
    return "POST", urlunsplit(parts._replace(path=path)), summary.encode("utf-8") if summary else None


def is_this_machine(host: str | None) -> bool:
    """Whether `host` names this machine (a loopback name or address): a monitor there is not a third party."""
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn_plain_http(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "http" or is_this_machine(parts.hostname) or parts.hostname in _warned_plain_http:
        return
    _warned_plain_http.add(parts.hostname)
    log.warning(
        "healthcheck: the monitor URL is plain http:// to %s: its secret and the run's summary cross the "
        "network unencrypted; use its https:// URL",
        parts.hostname,
    )


class Pinger:
    """Start and finish pings to one monitor URL (none at all without a URL); failures are logged, never raised.

    The start ping goes out on a thread of its own, so the run (and the lock it holds) never
    waits for the monitor; the finishing ping is sent by the caller once the run has let its lock
    go, after the start ping (a monitor must see them in order), and each ping ends within
    DEADLINE_SECONDS however the monitor answers. Account names reach the monitor only when
    `account_names` says so (HEALTHCHECK_ACCOUNT_NAMES): a hosted monitor is a third party.
    """

    def __init__(self, url: str | None, timeout: float | None = None, *, account_names: bool = False):
        self.url, self.timeout = url, timeout or TIMEOUT_SECONDS
        self.account_names = account_names
        self._hidden: set[str] = set()
        self._started: threading.Thread | None = None
        self._start_ends = 0.0
        if url:
            _warn_plain_http(url)

    def hide(self, names) -> None:
        """Account names the finishing ping's body must not carry (unless `account_names`)."""
        self._hidden.update(n for n in names if n)

    def start(self) -> bool:
        """Tell the monitor a run has begun (it can then alert on a run that never finishes), without waiting for it."""
        if not self.url or ping_request(self.url, "start") is None:
            return False
        self._start_ends = time.monotonic() + DEADLINE_SECONDS
        self._started = threading.Thread(target=self._send, args=("start", ""), name="healthcheck-start", daemon=True)
        self._started.start()
        return True

    def finish(self, exit_code: int, summary: str = "") -> bool:
        """Success for exit 0, failure for any other code, with a short summary as the body."""
        if self._started is not None:  # the start ping first, for at most what is left of its deadline
            self._started.join(max(0.0, self._start_ends - time.monotonic()) + JOIN_GRACE_SECONDS)
            self._started = None
        line = f"exit {exit_code}" + (f": {summary}" if summary else "")
        return self._send("success" if exit_code == 0 else "fail", self._private(line))

    def _private(self, text: str) -> str:
        if self.account_names:
            return text
        for name in sorted(self._hidden, key=len, reverse=True):
            text = text.replace(name, "[account]")
        return text

    def _send(self, kind: str, summary: str) -> bool:
        if not self.url:
            return False
        request = ping_request(self.url, kind, redact(summary)[:BODY_LIMIT])
        if request is None:
            return False
        from api_clients.deadline import Watchdog, deadline_session  # only a run with a monitor pays for it

        session = deadline_session(USER_AGENT)
        try:
            with Watchdog(DEADLINE_SECONDS) as watchdog:
                try:
                    response = self._follow(session, *request)
                except OSError as exc:  # requests' exceptions are OSErrors; the watchdog's cut is one too
                    log.warning(
                        "healthcheck: the %s ping failed (%s); the run goes on", kind, _reason(exc, watchdog.fired)
                    )
                    return False
        finally:
            session.close()
        if response is None:
            return False
        if not response.ok:
            log.warning("healthcheck: the %s ping was answered HTTP %d; the run goes on", kind, response.status_code)
            return False
        return True

    def _follow(self, session, method: str, url: str, body: bytes | None):
        """Send the ping, following redirects on the monitor's own host only (with the same method
        and body); a redirect elsewhere is not followed (requests would turn the POST into a GET and
        carry the summary to whoever the monitor names). None when refused."""
        home = urlsplit(self.url)
        for _ in range(MAX_REDIRECTS + 1):
            response = session.request(
                method, url, data=body, timeout=(self.timeout, self.timeout), allow_redirects=False
            )
            if not response.is_redirect:
                return response
            target = urlsplit(urljoin(url, response.headers.get("Location", "")))
            if (target.hostname, target.port or _default_port(target.scheme)) != (
                home.hostname,
                home.port or _default_port(home.scheme),
            ) or (home.scheme == "https" and target.scheme != "https"):
                log.warning(
                    "healthcheck: the monitor redirected the ping to another host (%s); not followed",
                    target.hostname or "no host",
                )
                return None
            url = urlunsplit(target)
        log.warning("healthcheck: the monitor redirected the ping more than %d times; not followed", MAX_REDIRECTS)
        return None


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _reason(exc: BaseException, cut_off: bool) -> str:
    """Why a ping failed, in words of our own: requests' and urllib3's texts quote the URL's path
    and query, which hold the monitor's secret, so none of their text is shown."""
    import requests

    if cut_off:
        return f"no complete answer within {DEADLINE_SECONDS:g} s"
    kinds = (
        (requests.exceptions.ConnectTimeout, "ConnectTimeout: the monitor did not accept the connection in time"),
        (requests.exceptions.ReadTimeout, "ReadTimeout: the monitor did not answer in time"),
        (requests.exceptions.SSLError, "SSLError: the monitor's TLS certificate or handshake was refused"),
        (requests.exceptions.ProxyError, "ProxyError: the proxy refused the ping"),
        (requests.exceptions.ConnectionError, "ConnectionError: cannot reach the monitor"),
    )
    for kind, words in kinds:
        if isinstance(exc, kind):
            return words
    return type(exc).__name__


def accounts_summary(outcomes, names: bool) -> str:
    """One line about a run of several accounts: "3 accounts: 2 ok, 1 failed", naming each account only when `names`."""
    if names:
        return ", ".join(f"{o.account} {o.status}" for o in outcomes)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return f"{len(outcomes)} accounts: " + ", ".join(f"{n} {status}" for status, n in counts.items())


def run_summary(results) -> str:
    """One line about a run's resources: "8 resources: 7 ok, 1 failed (withings measures: ...)"."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    line = f"{len(results)} resource{'' if len(results) == 1 else 's'}: " + ", ".join(
        f"{n} {status}" for status, n in counts.items()
    )
    trouble = [f"{r.source} {r.resource}: {r.error}" for r in results if r.status != "ok" and r.error]
    return redact(line + (f" ({'; '.join(trouble)})" if trouble else ""))
