"""What several commands share: the `--source` and `--local-time` options, the `--ping-url` check,
and the settings and read-only engine of the reader commands (`export`, `quarantine`, `accounts`)."""

from __future__ import annotations

import click

from configuration.invocation import command
from sync.resources import SOURCES

# `--source` of the run, `watch` and `worker`: one declaration, so the three commands take the same names.
SOURCE_OPTION = click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Choice(SOURCES),
    help="Only this source (repeatable). Default: every configured source.",
)


# `--local-time` of every command that prints times (`status`, `accounts`, `quarantine`, the run):
# one declaration, one zone (the dashboard's), and the output names it.
LOCAL_TIME_OPTION = click.option(
    "--local-time",
    is_flag=True,
    help="Show times in the dashboard's zone (the person's, from the data) instead of UTC; the output names it.",
)


def display_zone(engine, local_time: bool, account_id: int | None = None):
    """(tzinfo, name) of the zone a command shows times in: UTC, or with `--local-time` the zone the
    dashboard shows `account_id` (None: every account's data) in, named with where it came from."""
    from datetime import timezone

    if not local_time:
        return timezone.utc, "UTC"
    from configuration import clock
    from dashboard.localtime import describe
    from dashboard.panels import page_zone

    with engine.connect() as conn:
        zone = page_zone(conn, account_id)
    return zone.tz, describe(zone, clock.utcnow())


def ping_url_callback(ctx, param, value):
    """The click callback of `--ping-url`: a monitor URL, or a usage error naming the option."""
    from configuration.settings import SettingError, check_ping_url

    try:
        return check_ping_url(value, "--ping-url")
    except SettingError as exc:
        raise click.UsageError(str(exc)) from None


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
