"""The `export` command; etl.py registers it (its work is imported only when it runs).

`settings()` and `open_engine()` serve the other reader commands (`quarantine`) too."""

from __future__ import annotations

import click

from configuration.accounts import account_option
from configuration.invocation import command


def settings():
    """The settings; a malformed value is a ClickException naming it."""
    from configuration.settings import get_settings

    try:
        return get_settings()
    except ValueError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


def open_engine(url: str, *, read_only: bool = True, at_head: bool = False, migrate: bool = False):
    """An engine (by default one that cannot write); a ClickException when the database cannot be
    opened, or with `at_head` when its schema is older than this release's (with `migrate`, a
    writing engine brings it to head instead, as `status` and `connect` do)."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.engine import (
        SCHEMA_HEAD,
        DatabaseUnavailable,
        current_revision,
        describe_failure,
        ensure_schema,
        make_engine,
    )

    engine = make_engine(url, read_only=read_only)
    try:
        revision = current_revision(engine)  # opens it once: a missing file or server fails here, clearly
    except DatabaseUnavailable as exc:
        engine.dispose()
        raise click.ClickException(f"{exc} (run `{command()}` once to create and fill it)") from None
    if at_head and revision != SCHEMA_HEAD and migrate and not read_only:
        try:
            ensure_schema(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise click.ClickException(describe_failure(url, exc)) from None
    elif at_head and revision != SCHEMA_HEAD:
        engine.dispose()
        raise click.ClickException(
            f"the database schema is at {revision or 'nothing yet'}, this release needs "
            f"{SCHEMA_HEAD}: run `{command()}` once to upgrade it"
        )
    return engine


def _since(ctx, param, value):
    from sync.windows import since_option  # lazy: the database layer loads only when used

    return since_option(ctx, param, value)


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
    "--since", callback=_since, metavar="WHEN", help="Only records from then on: 7d, 36h, 2w or a date like 2025-01-01."
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
