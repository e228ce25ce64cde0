"""The `quarantine` command: list, show, retry, acknowledge and dismiss the records that could not be
stored (its work is imported only when it runs)."""

from __future__ import annotations

import json
from contextlib import contextmanager

import click

from commands.common import LOCAL_TIME_OPTION, display_zone, open_engine, settings
from configuration.accounts import account_option
from configuration.invocation import command

# An id the databases can hold: SQLite's INTEGER and PostgreSQL's BIGINT are 64-bit, and a
# larger number is a usage error here rather than a driver's overflow.
ITEM_ID = click.IntRange(min=1, max=2**63 - 1)


@contextmanager
def _session(write: bool):
    from sqlalchemy.orm import Session

    from storage.tokens import register_stored

    engine = open_engine(settings().database_url, read_only=not write, at_head=True)
    try:
        with Session(engine) as session:
            register_stored(session.connection())  # a payload that echoes a token shows it masked
            yield session
    finally:
        engine.dispose()


def _account(session, ctx) -> int | None:
    """The id of the group's `--account` (None: every account); an unknown name is a usage error."""
    from storage.accounts import UnknownAccount, require

    name = (ctx.obj or {}).get("quarantine_account")
    if name is None:
        return None
    try:
        return require(session.connection(), name)
    except UnknownAccount as exc:
        raise click.UsageError(str(exc)) from None


@click.group(invoke_without_command=True)
@click.option("--json", "json_output", is_flag=True, help="Print the items as JSON (times in UTC).")
@click.option("--all", "show_all", is_flag=True, help="Also the dismissed items.")
@LOCAL_TIME_OPTION
@account_option(multiple=False, help="Only this account's items, for every subcommand. Default: every account.")
@click.pass_context
def quarantine(ctx, json_output, show_all, local_time, account):
    """List the records the APIs sent that could not be stored (ack, dismiss, retry, show: see --help)."""
    ctx.obj = {**(ctx.obj or {}), "quarantine_account": account}
    if ctx.invoked_subcommand is not None:
        return
    from readers.quarantine import FIELDS, format_items, list_items

    with _session(write=False) as session:
        account_id = _account(session, ctx)
        items = list_items(session, include_dismissed=show_all, account=account_id)
        tz, zone = display_zone(session.get_bind(), local_time and not json_output, account_id)
    if json_output:
        from readers.export import json_default  # lazy: the command's work loads when it runs

        click.echo(json.dumps([{k: q[k] for k in FIELDS} for q in items], default=json_default, indent=2))
    else:
        click.echo(format_items(items, tz, zone))


@quarantine.command()
@click.argument("item_id", metavar="ID", type=ITEM_ID)
@click.pass_context
def show(ctx, item_id):
    """Print one item: its reason, state and the API's payload as pretty JSON (credentials masked)."""
    from readers.quarantine import get_item

    with _session(write=False) as session:
        item = get_item(session, item_id, account=_account(session, ctx))
    if item is None:
        raise click.ClickException(f"no quarantine item {item_id} (`{command('quarantine', '--all')}` lists them)")
    from readers.export import json_default  # lazy: the command's work loads when it runs

    click.echo(json.dumps(item, default=json_default, indent=2))


def _targets(session, item_id, resource_name, account: int | None):
    """(resource declaration, ids or None) pairs to retry: one item, one resource, or all."""
    from models import Quarantine
    from sync import resources

    if item_id is not None:
        item = session.get(Quarantine, item_id)
        if item is None or item.dismissed_at is not None or account not in (None, item.account_id):
            raise click.ClickException(
                f"no quarantine item {item_id} to retry (dismissed items, and with --account other accounts' "
                "items, are not retried)"
            )
        try:
            return [(resources.get(item.source, item.resource), [item_id])]
        except KeyError as exc:
            raise click.ClickException(f"{exc.args[0]}: item {item_id} cannot be retried by this release") from None
    targets = [(r, None) for r in resources.RESOURCES if resource_name in (None, r.name)]
    if not targets:
        raise click.UsageError(f"no resource {resource_name}; one of: {', '.join(r.name for r in resources.RESOURCES)}")
    return targets


def _requeued_event(session, item_id: int, account: int | None) -> bool:
    """A pushed event that failed every try is not a record to map again: it is queued again for
    the processor (serve, watch or worker). False when the item is not such an event."""
    from models import Quarantine
    from sync.events import QUARANTINE_RESOURCE, requeue_quarantined

    item = session.get(Quarantine, item_id)
    if item is None or item.resource != QUARANTINE_RESOURCE or item.dismissed_at is not None:
        return False
    if account not in (None, item.account_id):
        return False
    source = item.source
    queued = requeue_quarantined(session.connection(), [item_id])
    session.commit()
    click.echo(f"{source} event queued again ({queued}): `serve`, `watch` or `worker` processes it next")
    return True


@quarantine.command()
@click.argument("item_id", metavar="[ID]", type=ITEM_ID, required=False)
@click.option("--resource", "resource_name", metavar="NAME", help="Only this resource's items (e.g. measures).")
@click.pass_context
def retry(ctx, item_id, resource_name):
    """Try the items again now with this release's mappers, and say what was stored."""
    from models import Quarantine
    from readers.read_model import owned
    from sync.admin import retry_quarantined
    from sync.lock import RunLocked

    tried = 0
    with _session(write=True) as session:
        account = _account(session, ctx)
        if item_id is not None and _requeued_event(session, item_id, account):
            return
        where = owned(Quarantine.__table__, account)
        try:
            for resource, counts in retry_quarantined(
                session, lambda s: _targets(s, item_id, resource_name, account), where
            ):
                tried += counts.fetched
                if counts.fetched:
                    click.echo(
                        f"{resource.source} {resource.name}: {counts.recovered} of {counts.fetched} "
                        f"stored now, {counts.fetched - counts.recovered} still quarantined"
                    )
        except RunLocked as exc:
            raise click.ClickException(str(exc)) from None
    if not tried:
        click.echo("nothing to retry: no item waits in the quarantine")


@quarantine.command()
@click.argument("item_ids", metavar="[ID]...", type=ITEM_ID, nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every new item (of the group's --account, when given).")
@click.pass_context
def ack(ctx, item_ids, every):
    """Acknowledge items: they stay listed but no longer fail `status --check`, until they change."""
    from storage.quarantine import acknowledge

    if bool(item_ids) == every:
        raise click.UsageError("name the items to acknowledge, or pass --all")
    _review(ctx, acknowledge, None if every else item_ids, "acknowledged")


@quarantine.command()
@click.argument("item_ids", metavar="ID...", type=ITEM_ID, nargs=-1, required=True)
@click.pass_context
def dismiss(ctx, item_ids):
    """Dismiss items that will never be stored: kept, never retried, listed only with --all."""
    from storage.quarantine import dismiss as dismiss_items

    _review(ctx, dismiss_items, item_ids, "dismissed")


def _review(ctx, change, item_ids, done: str) -> None:
    from models import Quarantine
    from readers.read_model import owned

    with _session(write=True) as session:
        changed = change(session, item_ids, where=owned(Quarantine.__table__, _account(session, ctx)))
        session.commit()
    missed = sorted(set(item_ids or ()) - set(changed))
    click.echo(
        f"{len(changed)} item{'' if len(changed) == 1 else 's'} {done}"
        + (f" ({', '.join(map(str, changed))})" if changed else "")
    )
    if missed:
        raise click.ClickException(
            f"not {done}: {', '.join(map(str, missed))} (no such item, or already {done} or dismissed)"
        )
