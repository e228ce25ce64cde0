"""The `export` command: tables to CSV or JSON Lines files (its work is imported only when it runs)."""

from __future__ import annotations

import click

from commands.common import open_engine, settings
from configuration.accounts import account_option
from sync.windows import since_option


@click.command()
@click.argument("table")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("csv", "jsonl")),
    default="csv",
    show_default=True,
    help="CSV with a header row, or JSON Lines (one object per row).",
)
@click.option(
    "--since",
    callback=since_option,
    metavar="WHEN",
    help="Only records from then on: 7d, 36h, 2w or a date like 2025-01-01.",
)
@click.option(
    "--output",
    "-o",
    default=".",
    show_default=True,
    metavar="DIR",
    help="Folder for <table>.<format> files; `-` writes one table to stdout.",
)
@click.option("--include-deleted", is_flag=True, help="Also rows marked deleted (deleted_at set).")
@click.option("--include-quarantined", is_flag=True, help="`all` also exports the quarantine table.")
@click.option("--force", is_flag=True, help="Overwrite files an earlier export left in the --output folder.")
@account_option(multiple=False, help="Only this account's rows (by its provider user ids). Default: every row.")
def export(table, fmt, since, output, include_deleted, include_quarantined, force, account):
    """Export TABLE (`all`, or `daily`: one row per day) to CSV or JSON Lines; OAuth tokens are never exported."""
    from readers.export import ExportError, export_tables, resolve_tables
    from storage.account_policy import to_read
    from storage.accounts import UnknownAccount

    engine = open_engine(settings().database_url)
    try:
        account_id = None
        if account is not None:
            with engine.connect() as conn:
                account_id = to_read(conn, [account])[0].id
        tables = resolve_tables(engine, table, include_quarantined)
        done = export_tables(
            engine,
            tables,
            fmt,
            output,
            since=since,
            include_deleted=include_deleted,
            force=force,
            account=account_id,
        )
    except (ExportError, UnknownAccount) as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        engine.dispose()
    for item in done:
        click.echo(f"{item.table}: {item.rows} rows -> {item.path}", err=True)
