"""The `quarantine` command: list, show, retry, acknowledge and dismiss the records that could not be
stored (its work is imported only when it runs)."""

from __future__ import annotations

import json
from contextlib import contextmanager

import click

from commands.common import open_engine, settings
from configuration.invocation import command


@contextmanager
def _session(write: bool):
    from sqlalchemy.orm import Session

    engine = open_engine(settings().database_url, read_only=not write, at_head=True)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


@click.group(invoke_without_command=True)
@click.option("--json", "json_output", is_flag=True, help="Print the items as JSON.")
@click.option("--all", "show_all", is_flag=True, help="Also the dismissed items.")
@click.pass_context
def quarantine(ctx, json_output, show_all):
    """List the records the APIs sent that could not be stored (ack, dismiss, retry, show: see --help)."""
    if ctx.invoked_subcommand is not None:
        return
    from readers.quarantine import FIELDS, format_items, list_items

    with _session(write=False) as session:
        items = list_items(session, include_dismissed=show_all)
    if json_output:
        from readers.export import json_default  # lazy: the command's work loads when it runs

        click.echo(json.dumps([{k: q[k] for k in FIELDS} for q in items], default=json_default, indent=2))
    else:
        click.echo(format_items(items))


@quarantine.command()
@click.argument("item_id", metavar="ID", type=int)
def show(item_id):
    """Print one item: its reason, state and the API's payload as pretty JSON."""
    from readers.quarantine import get_item

    with _session(write=False) as session:
        item = get_item(session, item_id)
    if item is None:
        raise click.ClickException(f"no quarantine item {item_id} (`{command('quarantine', '--all')}` lists them)")
    from readers.export import json_default  # lazy: the command's work loads when it runs

    click.echo(json.dumps(item, default=json_default, indent=2))


def _targets(session, item_id, resource_name):
    """(resource declaration, ids or None) pairs to retry: one item, one resource, or all."""
    from models import Quarantine
    from sync import resources

    if item_id is not None:
        item = session.get(Quarantine, item_id)
        if item is None or item.dismissed_at is not None:
            raise click.ClickException(f"no quarantine item {item_id} to retry (dismissed items are not retried)")
        try:
            return [(resources.get(item.source, item.resource), [item_id])]
        except KeyError as exc:
            raise click.ClickException(f"{exc.args[0]}: item {item_id} cannot be retried by this release") from None
    targets = [(r, None) for r in resources.RESOURCES if resource_name in (None, r.name)]
    if not targets:
        raise click.UsageError(f"no resource {resource_name}; one of: {', '.join(r.name for r in resources.RESOURCES)}")
    return targets


@quarantine.command()
@click.argument("item_id", metavar="[ID]", type=int, required=False)
@click.option("--resource", "resource_name", metavar="NAME", help="Only this resource's items (e.g. measures).")
def retry(item_id, resource_name):
    """Try the items again now with this release's mappers, and say what was stored."""
    from sync.admin import retry_quarantined
    from sync.lock import RunLocked

    tried = 0
    with _session(write=True) as session:
        try:
            for resource, counts in retry_quarantined(session, lambda s: _targets(s, item_id, resource_name)):
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
@click.argument("item_ids", metavar="[ID]...", type=int, nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every new item.")
def ack(item_ids, every):
    """Acknowledge items: they stay listed but no longer fail `status --check`, until they change."""
    from storage.quarantine import acknowledge

    if bool(item_ids) == every:
        raise click.UsageError("name the items to acknowledge, or pass --all")
    _review(acknowledge, None if every else item_ids, "acknowledged")


@quarantine.command()
@click.argument("item_ids", metavar="ID...", type=int, nargs=-1, required=True)
def dismiss(item_ids):
    """Dismiss items that will never be stored: kept, never retried, listed only with --all."""
    from storage.quarantine import dismiss as dismiss_items

    _review(dismiss_items, item_ids, "dismissed")


def _review(change, item_ids, done: str) -> None:
    with _session(write=True) as session:
        changed = change(session, item_ids)
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
