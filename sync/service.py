"""The run service, the one front door of a sync: the command line, the menu, `watch`, `worker` and
the benchmarks hand it a `RunOptions` value; it reads the settings, opens the database, chooses the
accounts, pings the monitor and hands each account to `sync.run`.

Its failures are the command errors of configuration/exits.py, so every caller reports them alike.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError

from configuration.accounts import DEFAULT_ACCOUNT
from configuration.exits import EXIT_FAILED, EXIT_LOCKED, EXIT_USAGE, ConfigError, FailedError, LockedError
from configuration.invocation import command, env_file_hint
from configuration.settings import get_settings
from storage.engine import DatabaseUnavailable, describe_failure, ensure_schema, make_engine
from sync import resources
from sync.healthcheck import Pinger, accounts_summary, run_summary
from sync.lock import RunLocked
from sync.report import AccountReporter, Reporter, print_accounts
from sync.report import account_lines as _account_lines
from sync.run import RunOptions, RunOutcome, overall_exit, run_account, run_accounts

SOURCES = resources.SOURCES


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


def no_source_configured() -> ConfigError:
    return ConfigError(
        "no source is configured: set WHOOP_CLIENT_ID/WHOOP_CLIENT_SECRET and/or "
        f"WITHINGS_CLIENT_ID/WITHINGS_CLIENT_SECRET in {env_file_hint()}"
    )


def run_once(
    options: RunOptions | None = None,
    *,
    settings=None,
    reporter=None,
    engine=None,
    account: str = DEFAULT_ACCOUNT,
    on_start=None,
) -> RunOutcome:
    """One account's whole run, as the menu and the benchmarks make it: settings, database, lock,
    plan, run, summary. `on_start` is called once the run holds the lock. Raises RunLocked /
    DatabaseUnavailable."""
    options = options or RunOptions()
    settings = settings or load_settings()
    reporter = reporter or Reporter(interactive=options.interactive)
    own_engine = engine is None
    engine = engine or open_database(settings)
    try:
        return run_account(settings, engine, reporter, options, account=account, on_start=on_start)
    finally:
        if own_engine:
            engine.dispose()  # no pooled connection outlives the run (menu, tests, SQLite WAL)


def pinger_for(settings, options: RunOptions) -> Pinger:
    """The monitor of a run, `watch` or `worker`: --ping-url, else HEALTHCHECK_URL (none: no pings)."""
    return Pinger(options.ping_url or settings.healthcheck_url, account_names=settings.healthcheck_account_names)


def run(options: RunOptions) -> int:
    """The command line's run: every chosen account, the monitor pinged, the exit code returned.
    Raises ConfigError, LockedError or FailedError."""
    settings = load_settings()  # a configuration error stops here, before the run starts: no ping
    pinger = pinger_for(settings, options)
    try:
        engine = open_database(settings)
    except DatabaseUnavailable as exc:
        pinger.finish(EXIT_FAILED, str(exc))
        raise FailedError(str(exc)) from None
    try:
        names = _accounts_to_run(engine, settings, options.accounts)  # an unknown name: exit 2, no ping
        pinger.hide(names)
        if len(names) > 1:
            return _run_several(engine, settings, names, pinger, options)
        outcome = _run_one(engine, settings, names[0], pinger, options)
    finally:
        engine.dispose()  # no pooled connection outlives the run (menu, tests, SQLite WAL)
    if len(outcome.skipped) == len(options.sources):
        pinger.finish(EXIT_USAGE, "no source is configured")
        raise no_source_configured()
    pinger.finish(outcome.exit_code, run_summary(outcome.results))
    return outcome.exit_code


def _run_one(engine, settings, name: str, pinger: Pinger, options: RunOptions) -> RunOutcome:
    reporter = Reporter(interactive=options.interactive, quiet=options.quiet, json_output=options.json_output)
    try:
        return run_once(
            options, settings=settings, reporter=reporter, engine=engine, account=name, on_start=pinger.start
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
        pinger.finish(EXIT_FAILED, type(exc).__name__)  # the command line prints it as one line, exit 1
        raise


def _run_several(engine, settings, names: list[str], pinger: Pinger, options: RunOptions) -> int:
    """Several accounts at once: one line each at the end (or one JSON document), the worst exit code."""
    try:
        outcomes = run_accounts(
            settings,
            engine,
            names,
            lambda name: AccountReporter(name, quiet=options.quiet),
            options,
            on_start=pinger.start,
        )
    except RunLocked as exc:  # SQLite: another process holds the database (no ping, as for one account)
        raise LockedError(str(exc)) from None
    ran = [o for o in outcomes if not o.busy]
    if ran and all(len(o.skipped) == len(options.sources) for o in ran):
        pinger.finish(EXIT_USAGE, "no source is configured")
        raise no_source_configured()
    code = overall_exit(outcomes)
    if code == EXIT_LOCKED:
        raise LockedError(f"every account is being synced by another process ({', '.join(names)})")
    print_accounts(
        engine, outcomes, code, quiet=options.quiet, json_output=options.json_output, dry_run=options.dry_run
    )
    pinger.finish(code, accounts_summary(outcomes, pinger.account_names))
    return code


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


def run_every_account(options: RunOptions) -> list[RunOutcome]:
    """The menu's run: the chosen accounts (every account when none is named), one outcome each.
    One account prints its table; several print their plain lines, and the caller sums up
    (`account_lines`). Raises RunLocked / DatabaseUnavailable / ConfigError."""
    settings = load_settings()
    engine = open_database(settings)
    try:
        names = _accounts_to_run(engine, settings, options.accounts)
        if len(names) == 1:
            reporter = Reporter(interactive=options.interactive)
            return [run_once(options, settings=settings, reporter=reporter, engine=engine, account=names[0])]
        return run_accounts(settings, engine, names, AccountReporter, options)
    finally:
        engine.dispose()


def account_lines(outcomes: list[RunOutcome]) -> list[str]:
    """One line per account of a run of several (what `whoop-etl` prints), freshness read now."""
    engine = open_database(load_settings())
    try:
        return _account_lines(engine, outcomes)
    finally:
        engine.dispose()


def configured_sources(settings, options: RunOptions) -> tuple[str, ...]:
    """The sources of `options` whose apps are configured; none is a ConfigError."""
    configured = tuple(s for s in options.sources if getattr(settings, s).configured)
    if not configured:
        raise no_source_configured()
    return configured


def watch(options: RunOptions, schedule, *, cycles: int | None, echo) -> int:
    """`watch`: keep syncing the chosen accounts on `schedule` until stopped; the exit code.
    A schedule over a provider's daily budget, or an unknown account, is a ConfigError."""
    from storage.accounts import UnknownAccount
    from sync.watch import run_watch

    settings = load_settings()
    sources = configured_sources(settings, options)
    pinger = pinger_for(settings, options)
    engine = open_database(settings)
    try:
        code = run_watch(
            settings, engine, sources, schedule, echo=echo, max_cycles=cycles, pinger=pinger, accounts=options.accounts
        )
    except (ValueError, UnknownAccount) as exc:
        raise ConfigError(str(exc)) from None
    finally:
        engine.dispose()
    if code:  # every provider stopped (re-connect): the monitor hears it now, not after a missed ping
        pinger.finish(code, "watch stopped: no provider can sync")
    return code


def work(options: RunOptions, *, interval_minutes: int | None, until_idle: bool, echo):
    """`worker`: claim and sync due accounts on PostgreSQL until stopped; (exit code, WorkerStats)."""
    from datetime import timedelta

    from sqlalchemy.engine import make_url

    from sync.worker import Worker

    settings = load_settings()
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        raise ConfigError(
            "workers need PostgreSQL (DATABASE_URL=postgresql+psycopg2://...): with SQLite one process syncs "
            f"at a time; run `{command()}` from cron instead"
        )
    sources = configured_sources(settings, options)
    minutes = interval_minutes or settings.account_interval_minutes
    try:
        engine = open_database(settings, server_keepalives=True)
    except DatabaseUnavailable as exc:
        raise FailedError(str(exc)) from None
    loop = Worker(
        settings,
        engine,
        replace(options, sources=sources),
        interval=timedelta(minutes=minutes),
        until_idle=until_idle,
        echo=echo,
        pinger=Pinger(options.ping_url or settings.healthcheck_url),
    )
    loop.install_signal_handlers()
    try:
        return loop.run(), loop.stats
    finally:
        engine.dispose()
