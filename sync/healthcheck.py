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

import logging
from urllib.parse import urlencode, urlsplit, urlunsplit

from configuration.logs import redact

log = logging.getLogger("etl.healthcheck")
# A ping that fails is one warning line, and it reaches cron's mail under --quiet too (the
# monitor will report the missed ping; this line says why).
log.setLevel(logging.WARNING)
TIMEOUT_SECONDS = 5.0  # to connect, and again to read the answer: at most ~10 s per ping, ~20 s per run
BODY_LIMIT = 1000  # characters of the run's summary sent with a finishing ping (healthchecks.io logs it)
KUMA_MSG_LIMIT = 200  # Uptime Kuma shows `msg` in one table cell
KUMA_PUSH_PATH = "/api/push/"


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


class Pinger:
    """Start and finish pings to one monitor URL (none at all without a URL); failures are logged, never raised."""

    def __init__(self, url: str | None, timeout: float | None = None):
        self.url, self.timeout = url, timeout or TIMEOUT_SECONDS

    def start(self) -> bool:
        """Tell the monitor a run has begun (it can then alert on a run that never finishes)."""
        return self._send("start", "")

    def finish(self, exit_code: int, summary: str = "") -> bool:
        """Success for exit 0, failure for any other code, with a short summary as the body."""
        line = f"exit {exit_code}" + (f": {summary}" if summary else "")
        return self._send("success" if exit_code == 0 else "fail", line)

    def _send(self, kind: str, summary: str) -> bool:
        if not self.url:
            return False
        request = ping_request(self.url, kind, redact(summary)[:BODY_LIMIT])
        if request is None:
            return False
        import requests  # only a run with a monitor pays for it

        method, url, body = request
        try:
            response = requests.request(method, url, data=body, timeout=(self.timeout, self.timeout))
        except requests.RequestException as exc:
            reason = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            log.warning(
                "healthcheck: the %s ping failed (%s: %s); the run goes on", kind, type(exc).__name__, reason[:200]
            )
            return False
        if not response.ok:
            log.warning("healthcheck: the %s ping was answered HTTP %d; the run goes on", kind, response.status_code)
            return False
        return True


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
