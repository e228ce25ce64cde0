"""The `accounts` command: list the accounts, add one, remove one (keeping its data unless
`--purge`; sync/admin.py removes it under the run's locks). Its work is imported only when it runs."""

from __future__ import annotations

import json

import click

from commands.common import LOCAL_TIME_OPTION, display_zone, open_engine, settings
from configuration.accounts import check_account_name
from configuration.exits import ConfigError, LockedError


def _name(ctx, param, value):
    try:
        return check_account_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group(invoke_without_command=True)
@click.option("--json", "json_output", is_flag=True, help="Print the accounts as JSON (times in UTC).")
@LOCAL_TIME_OPTION
@click.pass_context
def accounts(ctx, json_output, local_time):
    """List the accounts: providers, provider user ids, token state and freshness (add, remove: see --help)."""
    if ctx.invoked_subcommand is not None:
        return
    from configuration import clock
    from readers.accounts import format_accounts, list_accounts

    engine = open_engine(settings().database_url, at_head=True)
    try:
        with engine.connect() as conn:
            items = list_accounts(conn)
        tz, zone = display_zone(engine, local_time and not json_output)
    finally:
        engine.dispose()
    if json_output:
        from readers.export import json_default  # lazy: the command's work loads when it runs

        click.echo(json.dumps(items, default=json_default, indent=2))
    else:
        click.echo(format_accounts(items, clock.utcnow(), tz, zone))


@accounts.command()
@click.argument("name", callback=_name)
def add(name):
    """Create an empty account NAME (`connect whoop --account NAME` also creates it)."""
    from storage import accounts as store

    engine = open_engine(settings().database_url, read_only=False, at_head=True, migrate=True)
    try:
        with engine.begin() as conn:
            existed = store.find(conn, name) is not None
            store.ensure(conn, name)
    finally:
        engine.dispose()
    click.echo(f"account {name!r} {'exists already' if existed else 'created'}")


@accounts.command()
@click.argument("name", callback=_name)
@click.option(
    "--purge",
    is_flag=True,
    help="Also delete the account's rows from every data table (asks first unless --yes).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before --purge deletes data.")
def remove(name, purge, yes):
    """Remove account NAME: its tokens and provider links are deleted, and its data is KEPT (the
    default; its rows stay in every table, owned by no account). --purge deletes its data too."""
    from storage import accounts as store
    from sync import hooks
    from sync.admin import remove_account
    from sync.lock import RunLocked

    current = settings()
    engine = open_engine(current.database_url, read_only=False, at_head=True)
    try:
        with engine.connect() as conn:
            try:
                account_id = store.require(conn, name)
            except store.UnknownAccount as exc:  # the message lists the accounts
                raise ConfigError(str(exc)) from None
        if purge and not yes:
            click.confirm(
                f"Delete every row of account {name!r} from every data table? This cannot be undone",
                abort=True,
            )
        try:
            deleted, erased = remove_account(engine, account_id, name, purge=purge)
        except RunLocked as exc:  # exit 75, as a run that meets another
            raise LockedError(str(exc)) from None
        hooks.account_removed(current, engine, name)  # Home Assistant's entities of it are withdrawn
    finally:
        engine.dispose()
    if purge:
        rows = sum(deleted.values())
        click.echo(f"account {name!r} removed with its tokens and {rows} row{'s' if rows != 1 else ''} of data")
        if not erased:
            database = engine.url.database
            click.echo(
                "warning: another process was using the database, so old copies of the purged rows may "
                f"remain in its free pages; once it has stopped run: sqlite3 {database} "
                "'PRAGMA secure_delete=ON; VACUUM; PRAGMA wal_checkpoint(TRUNCATE)'",
                err=True,
            )
    else:
        click.echo(f"account {name!r} removed (its tokens and links); its data is kept")
