"""The `backup` command: a consistent copy of the SQLite database, even while `watch` writes to it."""

from __future__ import annotations

from pathlib import Path

import click

from configuration.exits import ConfigError


@click.command()
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def backup(target):
    """Copy the SQLite database (your data and OAuth tokens) to TARGET, consistent even while `watch` runs."""
    from storage.backup import BackupRefused, backup_sqlite
    from sync.service import load_settings

    settings = load_settings()
    try:
        source, size = backup_sqlite(settings.database_url, Path(target).expanduser().resolve())
    except BackupRefused as exc:
        raise ConfigError(str(exc)) from None
    click.echo(f"backed up {source} to {target} ({size:,} bytes, mode 0600: it holds your OAuth tokens)")
