"""WHOOP + Withings ETL: `python etl.py` (incremental), `--since 7d`, `--full`, `status`, `connect`."""

from __future__ import annotations

import sys

import click

from configuration import startup

with startup.collection_paused():  # the imports below make no garbage (configuration/startup.py)
    from commands import COMMANDS, LazyGroup, run
    from commands.common import SOURCE_OPTION, ping_url_callback
    from configuration.accounts import account_option
    from configuration.exits import EXIT_FAILED
    from configuration.invocation import note_invocation
    from configuration.logs import LogFileRefused, redact, setup_logging
    from configuration.version import __version__
    from sync.windows import since_option

# Start-up time: everything a run needs is imported above (the declarations already load the
# database layer: SQLAlchemy Core and `models`' tables; the ORM is never imported by a run, its
# classes are mapped when a reader first asks for one). Every other command's module loads only
# when that command runs or `--help` lists it (commands.LazyGroup over commands.COMMANDS), so a
# routine run never imports `status`, `connect`'s callback server, the dashboard, MCP, MQTT or the
# webhook receiver; Alembic loads only when the schema is behind, and the HTTP clients when a
# provider is opened. What else loads is needed, or loaded by what is: click parses the command
# line, filelock holds a SQLite run's lock, and SQLAlchemy itself imports asyncio and
# importlib.metadata (its greenlet support reads asyncio at import: no lazy module helps).


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
    callback=ping_url_callback,
    metavar="URL",
    help="Ping this monitor when the run starts, succeeds or fails (healthchecks.io's /start and "
    "/fail; an Uptime Kuma push URL works too). Default: HEALTHCHECK_URL.",
)
@click.pass_context
def cli(ctx, quiet, verbose, log_file, ping_url, **run_options):
    """Sync WHOOP and Withings into the database (incremental by default).

    Exit codes: 0 all synced, 1 some resource failed, 2 usage or configuration error,
    3 a provider must be re-connected, 75 another run holds the lock. With several
    accounts: one line each, and the worst account's code (an account another process
    is syncing is `busy`, not a failure; 75 only when every account is busy).
    """
    try:
        setup_logging(verbose=verbose, quiet=quiet, log_file=log_file)
    except LogFileRefused as exc:
        raise click.UsageError(str(exc)) from None
    ctx.obj = {"verbose": verbose, "ping_url": ping_url}
    if ctx.invoked_subcommand is None:
        ctx.exit(run.run(quiet=quiet, ping_url=ping_url, **run_options))


def main() -> None:
    """Entry point: one-line errors unless --verbose asks for tracebacks."""
    note_invocation(sys.argv[0])  # messages name `whoop-etl` or `python etl.py`, as the user typed it
    try:
        cli.main(standalone_mode=True)
    except SystemExit:
        startup.skip_exit_collection()
        raise
    except Exception as exc:
        if "-v" in sys.argv or "--verbose" in sys.argv:
            raise
        click.echo(f"error: {redact(str(exc)) or type(exc).__name__} (run with --verbose for details)", err=True)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
