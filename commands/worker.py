"""The `worker` command: on PostgreSQL, claim the next due account, sync it, release it, repeat."""

from __future__ import annotations

import logging

import click

from commands.common import SOURCE_OPTION
from sync.resources import SOURCES


@click.command()
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
    from sync import service
    from sync.run import RunOptions

    options = RunOptions(
        sources=tuple(sources) or SOURCES,
        quiet=logging.getLogger().getEffectiveLevel() > logging.INFO,
        ping_url=(ctx.obj or {}).get("ping_url"),
    )
    code, stats = service.work(options, interval_minutes=interval_minutes, until_idle=until_idle, echo=click.echo)
    click.echo(f"worker stopped: {len(stats.synced)} accounts synced, {len(stats.failed)} failed", err=True)
    ctx.exit(code)
