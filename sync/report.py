"""What a run prints: live progress on a terminal, timestamped lines under cron, or JSON."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import TextIO

from api_clients.errors import naming_provider
from configuration.invocation import command
from configuration.logs import redact
from sync.runner import ResourceResult

log = logging.getLogger("etl")
# --quiet shows errors only, yet a record kept aside must reach cron's mail: this logger's
# lines pass at WARNING whatever the root level (they propagate to the same handlers).
reject_log = logging.getLogger("etl.rejects")
reject_log.setLevel(logging.WARNING)
# So does a deferral (the daily request budget is spent): not a failure, but the data is late.
notice_log = logging.getLogger("etl.notices")
notice_log.setLevel(logging.WARNING)
COLUMNS = ("fetched", "inserted", "updated", "unchanged", "rejected")
EXTRA = ("quarantined", "recovered", "deleted", "restored")  # a line under the row when not zero


class Reporter:
    """Progress and summary output; modes: terminal (live), plain log lines, quiet, JSON."""

    def __init__(
        self, *, interactive: bool, quiet: bool = False, json_output: bool = False, stream: TextIO | None = None
    ):
        self.stream = stream or sys.stdout
        self.interactive = interactive and not quiet and not json_output
        self.quiet = quiet
        self.json_output = json_output
        self.label = ""  # "alice: " in a run of several accounts, so each line names its account
        self._told: dict[str, str] = {}  # provider -> its re-connect error, said once per run
        self._live = None  # sync.progress.LiveProgress on a terminal
        self._log_filters: list[tuple[logging.Handler, logging.Filter]] = []
        if self.interactive:  # a log line (a rate-limit wait, a retry) is printed above the bars
            # Imported here: cron and --quiet runs never load rich.
            from sync.progress import LiveProgress, RouteLogLines

            self._live = LiveProgress(self.stream)
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                    self._log_filters.append((handler, RouteLogLines(self._live, handler)))
                    handler.addFilter(self._log_filters[-1][1])

    # -- progress ----------------------------------------------------------------------------
    def note(self, message: str) -> None:
        if self._live is not None:
            self._live.print(message)
        elif not self.quiet:
            log.info("%s%s", self.label, message)

    def skipped(self, source: str, reason: str) -> None:
        self.note(f"{source}: skipped ({reason})")

    def resource_started(self, source: str, resource: str, window) -> None:
        if not self.interactive:
            if not self.quiet:
                log.info("%s%s %s: fetching %s", self.label, source, resource, window.describe())
            return
        self._live.start(f"{self.label}{source} {resource}", window, source)

    @property
    def draws_progress(self) -> bool:
        """Whether progress bars are drawn (a terminal, not --quiet or --json): only then is a
        history's start worth the requests of a probe (sync/probe.py)."""
        return self._live is not None

    def history_start(self, source: str, start, per_minute: int | None = None) -> None:
        """Where `source`'s history probably begins: whole-history bars show a share and a time left."""
        if self._live is not None:
            self._live.history_start(source, start, per_minute)

    def page_loaded(self, result: ResourceResult, records: int, page_records: list | None = None) -> None:
        if self._live is not None:
            name = f"{self.label}{result.source} {result.resource}"
            self._live.page(name, result.counts.fetched, result.pages, page_records)
        elif not self.quiet:
            log.debug("%s%s %s: page %d, %d records", self.label, result.source, result.resource, result.pages, records)

    def resource_finished(self, result: ResourceResult) -> None:
        if self._live is not None:
            name = f"{self.label}{result.source} {result.resource}"
            self._live.finish(name, result.status, result.counts.fetched, result.pages)
            return
        if result.status == "ok" and not self.quiet:
            c = result.counts
            log.info(
                "%s%s %s: ok fetched=%d inserted=%d updated=%d unchanged=%d rejected=%d (%.1fs)",
                self.label,
                result.source,
                result.resource,
                c.fetched,
                c.inserted,
                c.updated,
                c.unchanged,
                c.rejected,
                result.seconds,
            )
        elif result.status == "failed":
            self._failed(result)
        elif result.status == "deferred" and not self.quiet:
            log.info("%s%s %s: deferred (%d pages kept)", self.label, result.source, result.resource, result.pages)
        elif result.status == "skipped":
            # It needs the user (a re-connect), so it reaches cron's mail under --quiet too.
            reject_log.warning("%s%s %s: skipped: %s", self.label, result.source, result.resource, result.error)
        if self.quiet:
            if result.counts.rejected:
                reject_log.warning("%s%s", self.label, reject_line(result))
            return
        for error in result.counts.errors:
            log.warning("%s%s %s: rejected %s", self.label, result.source, result.resource, error)

    def _failed(self, result: ResourceResult) -> None:
        if result.reconnect and self._told.get(result.source) == result.error:
            # Every resource of the provider meets the same refusal: it was said in full once.
            log.error(
                "%s%s %s: FAILED: %s must be re-connected (above)",
                self.label,
                result.source,
                result.resource,
                result.source,
            )
            return
        if result.reconnect:
            self._told[result.source] = result.error
        log.error("%s%s %s: FAILED: %s", self.label, result.source, result.resource, result.error)

    def _detach(self) -> None:
        if self._live is not None:
            self._live.stop()
        for handler, log_filter in self._log_filters:
            handler.removeFilter(log_filter)
        self._log_filters.clear()

    def deferred(self, message: str) -> None:
        """One line after the summary: the daily budget is spent and the rest waits for the next day."""
        if self.interactive:
            print(redact(f"{self.label}{message}"), file=self.stream)
        else:
            notice_log.warning("%s%s", self.label, message)

    # -- summary -----------------------------------------------------------------------------
    def summary(self, results: list[ResourceResult], exit_code: int, dry_run: bool) -> None:
        self._detach()
        if self.json_output:
            print(redact(json.dumps(summary_dict(results, exit_code, dry_run), indent=2)), file=self.stream)
            return
        if not self.interactive:
            if not self.quiet or exit_code:
                log.log(logging.INFO if exit_code == 0 else logging.ERROR, "run finished: exit %d", exit_code)
            return
        print(file=self.stream)
        print(redact(format_table(results, dry_run)), file=self.stream)


class AccountReporter(Reporter):
    """One account's reporter in a run of several accounts: plain lines that name the account,
    and no table of its own (the run prints one line per account at the end: `account_line`)."""

    def __init__(self, account: str, *, quiet: bool = False, stream: TextIO | None = None):
        super().__init__(interactive=False, quiet=quiet, json_output=False, stream=stream)
        self.label = f"{account}: "

    def summary(self, results: list[ResourceResult], exit_code: int, dry_run: bool) -> None:
        self._detach()


PROVIDER_LABELS = {"whoop": "WHOOP", "withings": "Withings"}


def account_line(outcome, freshness: dict, now: datetime, width: int = 0) -> str:
    """`alice  ok  12 new  WHOOP 2 min ago, Withings 5 min ago`: one account of a run of several,
    with the first error when it did not succeed. `freshness`: per source, the oldest
    last_success_at of its resources (what `accounts` shows too)."""
    new = sum(r.counts.inserted for r in outcome.results)
    fresh = ", ".join(f"{PROVIDER_LABELS.get(src, src)} {_ago(at, now)}" for src, at in sorted(freshness.items()))
    line = f"{outcome.account:{width}}  {outcome.status:10}  {new} new" + (f"  {fresh}" if fresh else "")
    error = next((r for r in outcome.results if r.error and r.status != "ok"), None)
    if error is not None and outcome.status != "ok":
        if error.source == "*":
            line += f"\n    error: {error.error}"
        elif error.resource == "*":  # the provider could not start: its error names it already
            line += f"\n    {naming_provider(error.source, error.error)}"
        else:
            line += f"\n    {error.source} {error.resource}: {error.error}"
    return line


def accounts_dict(outcomes: list, exit_code: int, dry_run: bool) -> dict:
    """The machine-readable summary of a run of several accounts: the overall exit code, and per
    account its status and the summary a single run prints."""
    return {
        "exit_code": exit_code,
        "dry_run": dry_run,
        "accounts": [
            {"account": o.account, "status": o.status, **summary_dict(o.results, o.exit_code, dry_run)}
            for o in outcomes
        ],
    }


def account_lines(engine, outcomes: list, *, quiet: bool = False) -> list[str]:
    """One `account_line` per account of a run of several, freshness read now; with `quiet`, only
    the accounts that neither succeeded nor were busy."""
    from configuration import clock
    from storage import accounts

    with engine.connect() as conn:
        fresh = {o.account: accounts.freshness(conn, accounts.find(conn, o.account) or -1) for o in outcomes}
    now, width = clock.utcnow(), max(len(o.account) for o in outcomes)
    return [
        account_line(o, fresh[o.account], now, width) for o in outcomes if not quiet or o.status not in ("ok", "busy")
    ]


def print_accounts(engine, outcomes: list, exit_code: int, *, quiet: bool, json_output: bool, dry_run: bool) -> None:
    """What a run of several accounts prints at the end: one line each, or one JSON document."""
    import click

    if json_output:
        click.echo(redact(json.dumps(accounts_dict(outcomes, exit_code, dry_run), indent=2)))
        return
    for line in account_lines(engine, outcomes, quiet=quiet):
        click.echo(redact(line))


def _ago(when: datetime | None, now: datetime) -> str:
    """ "just now", "5 min ago", "3 h ago", "2 days ago", "never"."""
    if when is None:
        return "never"
    if when.tzinfo is None:  # SQLite hands back naive UTC
        when = when.replace(tzinfo=timezone.utc)
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def summary_dict(results: list[ResourceResult], exit_code: int, dry_run: bool) -> dict:
    """The machine-readable summary (`--json`): no tokens, no secrets, only counts and windows."""
    return {
        "exit_code": exit_code,
        "dry_run": dry_run,
        "resources": [
            {
                "source": r.source,
                "resource": r.resource,
                "status": r.status,
                "error": r.error,
                "reconnect_required": r.reconnect,
                "pages": r.pages,
                "seconds": round(r.seconds, 3),
                "window_start": r.window.start.isoformat() if r.window and r.window.start else None,
                "window_end": r.window.end.isoformat() if r.window else None,
                "window_mode": r.window.mode if r.window else None,
                **r.counts.as_dict(),
                "rejections": r.counts.errors,
            }
            for r in results
        ],
    }


def format_table(results: list[ResourceResult], dry_run: bool) -> str:
    """A plain-text summary table, one line per resource, under 100 columns."""
    names = [r.source if r.resource == "*" else f"{r.source} {r.resource}" for r in results]
    width, status_width = max([17, *map(len, names)]), max([6, *(len(r.status) for r in results)])
    # Each count column as wide as its name (counts over 9,999,999 would push the line, not break it).
    header = (
        f"{'resource':{width}} {'status':{status_width}} "
        + " ".join(f"{c:>{len(c)}}" for c in COLUMNS)
        + "   secs  window (UTC)"
    )
    lines = [("DRY RUN: nothing was written\n" if dry_run else "") + header, "-" * len(header)]
    for name, r in zip(names, results, strict=False):
        counts = r.counts.as_dict()
        lines.append(
            f"{name:{width}} {r.status:{status_width}} "
            + " ".join(f"{counts[c]:>{len(c)}}" for c in COLUMNS)
            + f" {r.seconds:6.1f}  {r.window.brief() if r.window else ''}".rstrip()
        )
        if r.error:
            lines.append(f"    error: {r.error}")
        extra = ", ".join(f"{name} {counts[name]}" for name in EXTRA if counts[name])
        if extra:
            lines.append(f"    {extra}")
        lines.extend(f"    rejected {e}" for e in r.counts.errors)
    if any(r.counts.rejected for r in results):
        lines.append(f"Rejected records are kept in the quarantine and retried ({command('status')}).")
    return "\n".join(lines)


def reject_line(result: ResourceResult) -> str:
    """One line for a resource with rejected records (cron's mail under --quiet)."""
    c = result.counts
    first = f"; first: {c.errors[0]}" if c.errors else ""
    return (
        f"{result.source} {result.resource}: {c.rejected} record{'s' if c.rejected != 1 else ''} "
        f"rejected and kept in the quarantine{first[:200]} ({command('status')})"
    )
