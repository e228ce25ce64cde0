"""The `watch` command: keep syncing until stopped, polling often and reconciling now and then."""

from __future__ import annotations

import click

from commands.common import SOURCE_OPTION
from configuration.accounts import account_option
from sync.resources import SOURCES


@click.command()
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
    from sync import service
    from sync.run import RunOptions
    from sync.watch import Schedule

    schedule = Schedule(
        poll_seconds={"whoop": poll_whoop, "withings": poll_withings}, reconcile_seconds=reconcile_hours * 3600
    )
    options = RunOptions(
        sources=tuple(sources) or SOURCES, accounts=tuple(accounts), ping_url=(ctx.obj or {}).get("ping_url")
    )
    ctx.exit(service.watch(options, schedule, cycles=cycles, echo=click.echo))
