"""The run itself (`whoop-etl` with no command): the root group's options become one `RunOptions`
value, handed to the run service."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from sync import service
from sync.resources import SOURCES
from sync.run import RunOptions


def run(
    *,
    since: datetime | None,
    full: bool,
    sources: tuple,
    dry_run: bool,
    wait: float,
    max_minutes: float | None,
    accounts: tuple,
    quiet: bool,
    json_output: bool,
    ping_url: str | None,
) -> int:
    """Sync the chosen accounts; the exit code (the errors are configuration/exits.py's)."""
    if since is not None and full:
        raise click.UsageError("--since and --full cannot be combined")
    options = RunOptions(
        since=since,
        full=full,
        sources=tuple(sources) or SOURCES,
        dry_run=dry_run,
        wait=wait,
        max_minutes=max_minutes,
        accounts=tuple(accounts),
        quiet=quiet,
        json_output=json_output,
        interactive=sys.stdout.isatty(),
        ping_url=ping_url,
    )
    return service.run(options)
