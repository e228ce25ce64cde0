"""WHOOP + Withings ETL: `python etl.py` (incremental), `--since 7d`, `--full`, `status`, `connect`."""

# ruff: noqa: E402 - the collector is paused before the imports below (see the comment there)
from __future__ import annotations

import gc

# Start-up time: the imports below create about 60,000 objects, and the allocations alone set
# off some 150 collections meanwhile (about 15% of the import time), which find no garbage: a
# module's objects live as long as the process. The collector is paused for the imports; at the
# end of this module what they made is frozen (no collection walks it again) and it resumes.
_COLLECTING = gc.isenabled()
gc.disable()

import json
import logging
import sys
from datetime import datetime

import click
from sqlalchemy.exc import SQLAlchemyError

from api_clients.errors import ApiError
from configuration.accounts import DEFAULT_ACCOUNT, account_option
from configuration.invocation import command, env_file_hint, note_invocation
from configuration.logs import redact, setup_logging
from configuration.settings import SettingError, check_ping_url, get_settings
from configuration.version import __version__
from storage.engine import DatabaseUnavailable, describe_failure, ensure_schema, make_engine
from storage.tokens import DbTokenStore
from sync import resources
from sync.healthcheck import Pinger, run_summary
from sync.lock import RunLocked
from sync.report import Reporter
from sync.run import EXIT_FAILED, EXIT_LOCKED, EXIT_USAGE, RunOutcome, overall_exit, run_account, run_accounts
from sync.windows import since_option

SOURCES = resources.SOURCES
log = logging.getLogger("etl")
# `--source` of the run, `watch` and `worker`: one declaration, so the three commands take the same names.
SOURCE_OPTION = click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Choice(SOURCES),
    help="Only this source (repeatable). Default: every configured source.",
)

# Start-up time: everything a run needs is imported above (the declarations already load the
# database layer: SQLAlchemy Core and `models`' tables; the ORM is never imported by a run, its
# classes are mapped when a reader first asks for one). Deferred, each by the one command that
# uses it, is what a routine run never touches: the OAuth callback server (`connect`), `status`
# and its check, `watch`, the dashboard and the export/MCP commands (at the end of this file),
# and Alembic (ensure_schema imports it only when the schema is behind). The HTTP clients load
# when a provider is opened. What else loads is needed, or loaded by what is: click parses the
# command line, filelock holds a SQLite run's lock, and SQLAlchemy itself imports asyncio and
# importlib.metadata (its greenlet support reads asyncio at import: no lazy module helps).


class _Redacted(click.ClickException):
    """A one-line error whose text never shows a registered secret."""

    def format_message(self) -> str:
        return redact(super().format_message())


class ConfigError(_Redacted):
    """A configuration problem the user fixes in `.env` (exit 2)."""

    exit_code = EXIT_USAGE


class LockedError(_Redacted):
    exit_code = EXIT_LOCKED


class FailedError(_Redacted):
    exit_code = EXIT_FAILED


def load_settings():
    """Settings from the environment; a malformed value is a ConfigError (exit 2)."""
    try:
        return get_settings()
    except ValueError as exc:
        raise ConfigError(f"configuration: {exc}") from None


def open_database(settings, **options):
    """An engine at the current schema; DatabaseUnavailable says which database failed."""
    engine = make_engine(
        settings.database_url,
        connect_timeout=settings.db_connect_timeout,
        statement_timeout=settings.db_statement_timeout,
        **options,
    )  # DatabaseUnavailable: bad SQLite path
    try:
        ensure_schema(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseUnavailable(describe_failure(settings.database_url, exc)) from exc
    return engine


def run_complete_etl(
    settings=None,
    *,
    since=None,
    full=False,
    sources=SOURCES,
    dry_run=False,
    wait=0.0,
    reporter=None,
    engine=None,
    max_minutes=None,
    on_start=None,
    account=DEFAULT_ACCOUNT,
) -> RunOutcome:
    """The whole ETL run the menu and the CLI make: settings, database, lock, plan, run, summary.

    `on_start` is called once the run holds the lock. Raises RunLocked / DatabaseUnavailable.
    """
    settings = settings or load_settings()
    reporter = reporter or Reporter(interactive=sys.stdout.isatty())
    own_engine = engine is None
    engine = engine or open_database(settings)
    try:
        return run_account(
            settings,
            engine,
            reporter,
            account=account,
            sources=sources,
            since=since,
            full=full,
            dry_run=dry_run,
            wait=wait,
            max_minutes=max_minutes,
            on_start=on_start,
        )
    finally:
        if own_engine:
            engine.dispose()  # no pooled connection outlives the run (menu, tests, SQLite WAL)


# ---- command line ----------------------------------------------------------------------------


def _ping_url(ctx, param, value):
    try:
        return check_ping_url(value, "--ping-url")
    except SettingError as exc:
        raise click.UsageError(str(exc)) from None


def _no_source_configured() -> ConfigError:
    return ConfigError(
        "no source is configured: set WHOOP_CLIENT_ID/WHOOP_CLIENT_SECRET and/or "
        f"WITHINGS_CLIENT_ID/WITHINGS_CLIENT_SECRET in {env_file_hint()}"
    )


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="whoop-etl")
@click.option(
    "--since",
    callback=since_option,
    metavar="WHEN",
    help="Fetch an explicit window: 7d, 36h, 2w or a date like 2025-01-01.",
)
@click.option("--full", is_flag=True, help="Fetch the whole history again (slow: minutes under WHOOP's rate limit).")
@SOURCE_OPTION
@click.option("--dry-run", is_flag=True, help="Fetch and report what would change; write nothing.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another run to finish before giving up (exit 75).",
)
@click.option(
    "--max-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="MINUTES",
    help="Stop the run cleanly after this long (committed pages are kept; exit 1). Default: ETL_MAX_MINUTES (120).",
)
@account_option(help="Sync only this account (repeatable). Default: every account, several at once.")
@click.option("--quiet", "-q", is_flag=True, help="Print errors only (for cron).")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging, with tracebacks.")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Also append log lines to this file (mode 0600).")
@click.option("--json", "json_output", is_flag=True, help="Print a machine-readable JSON summary on stdout.")
@click.option(
    "--ping-url",
    callback=_ping_url,
    metavar="URL",
    help="Ping this monitor when the run starts, succeeds or fails (healthchecks.io's /start and "
    "/fail; an Uptime Kuma push URL works too). Default: HEALTHCHECK_URL.",
)
@click.pass_context
def cli(
    ctx, since, full, sources, dry_run, wait, max_minutes, accounts, quiet, verbose, log_file, json_output, ping_url
):
    """Sync WHOOP and Withings into the database (incremental by default).

    Exit codes: 0 all synced, 1 some resource failed, 2 usage or configuration error,
    3 a provider must be re-connected, 75 another run holds the lock. With several
    accounts: one line each, and the worst account's code (an account another process
    is syncing is `busy`, not a failure; 75 only when every account is busy).
    """
    setup_logging(verbose=verbose, quiet=quiet, log_file=log_file)
    ctx.obj = {"verbose": verbose, "ping_url": ping_url}
    if ctx.invoked_subcommand is not None:
        return
    if since is not None and full:
        raise click.UsageError("--since and --full cannot be combined")
    ctx.exit(
        _run_cli(
            since=since,
            full=full,
            sources=tuple(sources) or SOURCES,
            dry_run=dry_run,
            wait=wait,
            max_minutes=max_minutes,
            quiet=quiet,
            json_output=json_output,
            ping_url=ping_url,
            accounts=tuple(accounts),
        )
    )


def _run_cli(
    *,
    since: datetime | None,
    full: bool,
    sources: tuple,
    dry_run: bool,
    wait: float,
    max_minutes: float | None,
    quiet: bool,
    json_output: bool,
    ping_url: str | None,
    accounts: tuple = (),
) -> int:
    settings = load_settings()  # a configuration error stops here, before the run starts: no ping
    pinger = Pinger(ping_url or settings.healthcheck_url)
    try:
        engine = open_database(settings)
    except DatabaseUnavailable as exc:
        pinger.finish(EXIT_FAILED, str(exc))
        raise FailedError(str(exc)) from None
    try:
        names = _accounts_to_run(engine, settings, accounts)  # an unknown name: exit 2, no ping
        if len(names) > 1:
            return _run_several(
                engine,
                settings,
                names,
                pinger,
                quiet,
                json_output,
                sources=sources,
                since=since,
                full=full,
                dry_run=dry_run,
                wait=wait,
                max_minutes=max_minutes,
            )
        reporter = Reporter(interactive=sys.stdout.isatty(), quiet=quiet, json_output=json_output)
        try:
            outcome = run_complete_etl(
                settings,
                since=since,
                full=full,
                sources=sources,
                dry_run=dry_run,
                wait=wait,
                reporter=reporter,
                engine=engine,
                max_minutes=max_minutes,
                on_start=pinger.start,
                account=names[0],
            )
        except RunLocked as exc:
            # No ping: this run never started, and the run holding the lock reports its own outcome.
            # A failure ping would alert whenever cron meets `watch`; a success one would claim a sync
            # nobody made. A lock held for ever still shows: the monitor's pings stop.
            raise LockedError(str(exc)) from None
        except DatabaseUnavailable as exc:
            pinger.finish(EXIT_FAILED, str(exc))
            raise FailedError(str(exc)) from None
        except Exception as exc:
            pinger.finish(EXIT_FAILED, type(exc).__name__)  # main() prints it as one line, exit 1
            raise
    finally:
        engine.dispose()  # no pooled connection outlives the run (menu, tests, SQLite WAL)
    if len(outcome.skipped) == len(sources):
        pinger.finish(EXIT_USAGE, "no source is configured")
        raise _no_source_configured()
    pinger.finish(outcome.exit_code, run_summary(outcome.results))
    return outcome.exit_code


def _accounts_to_run(engine, settings, chosen: tuple) -> list[str]:
    """The accounts a run syncs, as the account policy decides; an unknown name is a ConfigError
    listing the accounts."""
    from storage import account_policy
    from storage.accounts import UnknownAccount

    with engine.begin() as conn:
        try:
            return [scope.name for scope in account_policy.to_run(conn, chosen, settings=settings)]
        except UnknownAccount as exc:
            raise ConfigError(str(exc)) from None


def run_every_account(settings=None, *, full: bool = False, interactive: bool = False) -> list[RunOutcome]:
    """The menu's run: every account (as `whoop-etl` with no --account), one outcome each. One
    account prints its table as before; several print their plain lines, and the caller sums up
    (`account_line`). Raises RunLocked / DatabaseUnavailable / ConfigError."""
    from sync.report import AccountReporter

    settings = settings or load_settings()
    engine = open_database(settings)
    try:
        names = _accounts_to_run(engine, settings, ())
        if len(names) == 1:
            reporter = Reporter(interactive=interactive)
            return [run_complete_etl(settings, full=full, reporter=reporter, engine=engine, account=names[0])]
        return run_accounts(settings, engine, names, lambda name: AccountReporter(name), full=full)
    finally:
        engine.dispose()


def account_lines(outcomes: list[RunOutcome]) -> list[str]:
    """One line per account of a run of several (what `whoop-etl` prints), freshness read now."""
    from configuration import clock
    from storage import accounts
    from sync.report import account_line

    settings = load_settings()
    engine = open_database(settings)
    try:
        with engine.connect() as conn:
            fresh = {o.account: accounts.freshness(conn, accounts.find(conn, o.account) or -1) for o in outcomes}
    finally:
        engine.dispose()
    now, width = clock.utcnow(), max(len(o.account) for o in outcomes)
    return [account_line(o, fresh[o.account], now, width) for o in outcomes]


def _run_several(engine, settings, names, pinger, quiet, json_output, **options) -> int:
    """Several accounts at once: one line each at the end (or one JSON document), the worst exit code."""
    from configuration import clock
    from storage import accounts
    from sync.report import AccountReporter, account_line, accounts_dict

    try:
        outcomes = run_accounts(
            settings,
            engine,
            names,
            lambda name: AccountReporter(name, quiet=quiet),
            on_start=pinger.start,
            **options,
        )
    except RunLocked as exc:  # SQLite: another process holds the database (no ping, as for one account)
        raise LockedError(str(exc)) from None
    ran = [o for o in outcomes if not o.busy]
    if ran and all(len(o.skipped) == len(options["sources"]) for o in ran):
        pinger.finish(EXIT_USAGE, "no source is configured")
        raise _no_source_configured()
    code = overall_exit(outcomes)
    if code == EXIT_LOCKED:
        raise LockedError(f"every account is being synced by another process ({', '.join(names)})")
    if json_output:
        from readers.export import json_default

        click.echo(
            redact(json.dumps(accounts_dict(outcomes, code, options["dry_run"]), default=json_default, indent=2))
        )
    else:
        with engine.connect() as conn:
            fresh = {o.account: accounts.freshness(conn, accounts.find(conn, o.account) or -1) for o in outcomes}
        now, width = clock.utcnow(), max(len(n) for n in names)
        for outcome in outcomes:
            if not quiet or outcome.status not in ("ok", "busy"):
                click.echo(redact(account_line(outcome, fresh[outcome.account], now, width)))
    pinger.finish(code, ", ".join(f"{o.account} {o.status}" for o in outcomes))
    return code


@cli.command()
@click.option("--json", "json_output", is_flag=True, help="Print the status (or the check) as JSON.")
@click.option(
    "--check",
    is_flag=True,
    help="For cron and monitors: one line per problem on stderr; exit 0 fresh, 1 stale or "
    "new quarantined records (or no database), 2 a setting is wrong or nothing is in use, "
    "3 a provider must be re-connected.",
)
@account_option()
@click.pass_context
def status(ctx, json_output, check, accounts):
    """Show the last sync per resource, data freshness, token expiry and the latest weight, per account."""
    if check:
        ctx.exit(_check(json_output, accounts))
    from storage.accounts import UnknownAccount

    settings = load_settings()
    try:
        engine = open_database(settings)
    except DatabaseUnavailable as exc:
        raise FailedError(str(exc)) from None
    try:
        from readers.status import collect_statuses, format_statuses

        reports = collect_statuses(engine, accounts)
    except UnknownAccount as exc:
        raise ConfigError(str(exc)) from None
    finally:
        engine.dispose()
    if json_output:  # one account: its report as it always was; several: each under `accounts`
        document = reports[0] if len(reports) == 1 else {"accounts": reports}
        click.echo(redact(json.dumps(document, default=str, indent=2)))
    else:
        click.echo(redact(format_statuses(reports)))


def _check(json_output: bool, accounts=()) -> int:
    """`status --check`: one stderr line per problem and, with --json, the report on stdout, whatever failed."""
    from readers.health import check_accounts, failed_check
    from storage.accounts import UnknownAccount

    try:
        settings = load_settings()
        engine = open_database(settings)
    except ConfigError as exc:
        result = failed_check(EXIT_USAGE, "configuration", exc.format_message())
    except DatabaseUnavailable as exc:
        result = failed_check(EXIT_FAILED, "database", str(exc))
    else:
        try:
            result = check_accounts(engine, settings, accounts)
        except UnknownAccount as exc:
            result = failed_check(EXIT_USAGE, "configuration", str(exc))
        finally:
            engine.dispose()
    # Several accounts (or one not called default): each line names its account.
    named = len(result["accounts"]) > 1 or any(a["account"] not in (None, DEFAULT_ACCOUNT) for a in result["accounts"])
    for problem in result["problems"]:
        prefix = f"{problem['account']}: " if named and problem.get("account") else ""
        click.echo(redact(prefix + problem["message"]), err=True)
    if json_output:
        from readers.export import json_default

        click.echo(redact(json.dumps(result, default=json_default, indent=2)))
    elif named and sys.stdout.isatty():
        for verdict in result["accounts"]:
            word = "ok" if verdict["exit_code"] == 0 else f"exit {verdict['exit_code']}"
            click.echo(f"{verdict['account']}: {word} ({verdict['problems']} problem(s))")
    elif not result["problems"] and sys.stdout.isatty():
        click.echo("ok: every resource in use is fresh")
    return result["exit_code"]


@cli.command()
@click.argument("provider", type=click.Choice(SOURCES))
@click.option("--no-browser", is_flag=True, help="Print the authorization URL instead of opening a browser.")
@click.option(
    "--timeout",
    type=click.IntRange(min=10),
    default=300,
    show_default=True,
    help="Seconds to wait for the browser to come back to the local callback.",
)
@account_option(
    multiple=False,
    help=f"Store the token under this account, created if needed (default: {DEFAULT_ACCOUNT}). "
    "A provider user already connected under another account is refused (exit 2).",
)
def connect(provider, no_browser, timeout, account):
    """Connect a WHOOP or Withings account (OAuth in the browser, callback on 127.0.0.1)."""
    from api_clients.oauth_flow import connect as oauth_connect
    from storage.accounts import AccountConflict

    settings = load_settings()
    provider_settings = getattr(settings, provider)
    if not provider_settings.configured:
        raise ConfigError(
            f"set {provider.upper()}_CLIENT_ID and {provider.upper()}_CLIENT_SECRET in {env_file_hint()} first"
        )
    account = account or DEFAULT_ACCOUNT
    engine = open_database(settings)
    store = DbTokenStore(engine, account)
    try:
        token = oauth_connect(
            provider_settings,
            store,
            scopes=resources.scopes_of(provider),
            open_browser=not no_browser,
            timeout=timeout,
            print_fn=click.echo,
        )
    except AccountConflict as exc:  # nothing was saved: the account's transaction rolled back
        raise ConfigError(f"{provider}: not connected: {exc}") from None
    except (ApiError, TimeoutError, ValueError) as exc:
        raise FailedError(f"{provider}: connection failed: {exc}") from None
    finally:
        engine.dispose()
    under = "" if account == DEFAULT_ACCOUNT else f" under account {account!r}"
    click.echo(f"{provider} connected (user {token.user_id}){under}. Run `{command()}` to sync.")


@cli.command()
@SOURCE_OPTION
@click.option(
    "--poll-withings",
    type=click.FloatRange(min=10),
    default=90,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between Withings polls (one `lastupdate` request each).",
)
@click.option(
    "--poll-whoop",
    type=click.FloatRange(min=60),
    default=600,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between WHOOP polls (recovery and sleep, one request each).",
)
@click.option(
    "--reconcile-hours",
    type=click.FloatRange(min=0.1),
    default=6,
    show_default=True,
    metavar="HOURS",
    help="Hours between full reconciliations of the lookback (every resource).",
)
@click.option("--cycles", type=click.IntRange(min=1), default=None, help="Stop after this many cycles.")
@account_option()
@click.pass_context
def watch(ctx, sources, poll_withings, poll_whoop, reconcile_hours, cycles, accounts):
    """Keep syncing until stopped (SIGTERM or Ctrl-C): new data within minutes, within each provider's budget."""
    from storage.accounts import UnknownAccount
    from sync.watch import Schedule, run_watch

    settings = load_settings()
    configured = [s for s in (sources or SOURCES) if getattr(settings, s).configured]
    if not configured:
        raise _no_source_configured()
    schedule = Schedule(
        poll_seconds={"whoop": poll_whoop, "withings": poll_withings}, reconcile_seconds=reconcile_hours * 3600
    )
    pinger = Pinger((ctx.obj or {}).get("ping_url") or settings.healthcheck_url)
    engine = open_database(settings)
    try:
        code = run_watch(
            settings,
            engine,
            configured,
            schedule,
            echo=click.echo,
            max_cycles=cycles,
            pinger=pinger,
            accounts=accounts,
        )
        if code:  # every provider stopped (re-connect): the monitor hears it now, not after a missed ping
            pinger.finish(code, "watch stopped: no provider can sync")
        ctx.exit(code)
    except (ValueError, UnknownAccount) as exc:  # a schedule over a provider's daily budget, an unknown account
        raise ConfigError(str(exc)) from None
    finally:
        engine.dispose()


@cli.command()
@click.option("--until-idle", is_flag=True, help="Exit once no account is due (a batch, tests, benchmarks).")
@click.option(
    "--interval-minutes",
    type=click.IntRange(1, 10080),
    default=None,
    metavar="MINUTES",
    help="An account is due again this long after its run (default: ETL_ACCOUNT_INTERVAL_MINUTES, 60).",
)
@SOURCE_OPTION
@click.pass_context
def worker(ctx, until_idle, interval_minutes, sources):
    """Sync due accounts until stopped (SIGTERM or Ctrl-C finish the account in hand), on PostgreSQL.

    Start any number of workers on any number of hosts against one PostgreSQL database: each claims
    the next due account (an advisory lock per account), syncs it and schedules it again.
    """
    from datetime import timedelta

    from sqlalchemy.engine import make_url

    from sync.worker import Worker

    settings = load_settings()
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        raise ConfigError(
            "workers need PostgreSQL (DATABASE_URL=postgresql+psycopg2://...): with SQLite one process syncs "
            f"at a time; run `{command()}` from cron instead"
        )
    configured = [s for s in (sources or SOURCES) if getattr(settings, s).configured]
    if not configured:
        raise _no_source_configured()
    minutes = interval_minutes or settings.account_interval_minutes
    try:
        engine = open_database(settings, server_keepalives=True)
    except DatabaseUnavailable as exc:
        raise FailedError(str(exc)) from None
    loop = Worker(
        settings,
        engine,
        interval=timedelta(minutes=minutes),
        until_idle=until_idle,
        sources=tuple(configured),
        echo=click.echo,
        quiet=logging.getLogger().getEffectiveLevel() > logging.INFO,
        pinger=Pinger((ctx.obj or {}).get("ping_url") or settings.healthcheck_url),
    )
    loop.install_signal_handlers()
    try:
        code = loop.run()
    finally:
        engine.dispose()
    stats = loop.stats
    click.echo(f"worker stopped: {len(stats.synced)} accounts synced, {len(stats.failed)} failed", err=True)
    ctx.exit(code)


from dashboard.command import dashboard

cli.add_command(dashboard)


from mcp_server.command import mcp
from readers.accounts_command import accounts
from readers.commands import export
from readers.quarantine_command import quarantine

cli.add_command(accounts)
cli.add_command(export)
cli.add_command(quarantine)
cli.add_command(mcp)

gc.freeze()  # the imports are done (see the top of this module)
if _COLLECTING:
    gc.enable()


def main() -> None:
    """Entry point: one-line errors unless --verbose asks for tracebacks."""
    note_invocation(sys.argv[0])  # messages name `whoop-etl` or `python etl.py`, as the user typed it
    try:
        cli.main(standalone_mode=True)
    except SystemExit:
        # The interpreter's exit would run full collections over every tracked object (about
        # 170 ms for a routine run's 70,000). Freezing them skips that walk and nothing else:
        # the run has already released what it holds by hand (engines disposed, the run lock
        # and files closed by their `with` blocks), and the exit still flushes stdout and
        # stderr and runs the atexit hooks (logging.shutdown flushes and closes the log file).
        # Only finalizers of objects in reference cycles would not run; none of ours needs one.
        gc.freeze()
        raise
    except Exception as exc:
        if "-v" in sys.argv or "--verbose" in sys.argv:
            raise
        click.echo(f"error: {redact(str(exc)) or type(exc).__name__} (run with --verbose for details)", err=True)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
