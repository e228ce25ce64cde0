"""The `status` command: the last sync per resource, freshness, tokens and the latest weight; with
`--check`, one line per problem and an exit code for cron and monitors."""

from __future__ import annotations

import json
import sys

import click

from commands.common import LOCAL_TIME_OPTION
from configuration.accounts import DEFAULT_ACCOUNT, account_option
from configuration.exits import EXIT_FAILED, EXIT_USAGE, ConfigError, FailedError
from configuration.logs import redact


@click.command()
@click.option("--json", "json_output", is_flag=True, help="Print the status (or the check) as JSON.")
@click.option(
    "--check",
    is_flag=True,
    help="For cron and monitors: one line per problem on stderr; exit 0 fresh, 1 stale or "
    "new quarantined records (or no database), 2 a setting is wrong or nothing is in use, "
    "3 a provider must be re-connected.",
)
@LOCAL_TIME_OPTION
@account_option()
@click.pass_context
def status(ctx, json_output, check, local_time, accounts):
    """Show the last sync per resource, data freshness, token expiry and the latest weight, per account."""
    if check:
        ctx.exit(_check(json_output, accounts))
    from storage.accounts import UnknownAccount
    from storage.engine import DatabaseUnavailable
    from sync.service import load_settings, open_database

    settings = load_settings()
    try:
        engine = open_database(settings)
    except DatabaseUnavailable as exc:
        raise FailedError(str(exc)) from None
    try:
        from readers.status import collect_statuses, format_statuses

        reports = collect_statuses(
            engine,
            accounts,
            zone_hints=local_time and not json_output,
            whoop_per_day=settings.whoop.requests_per_day,
        )
    except UnknownAccount as exc:
        raise ConfigError(str(exc)) from None
    finally:
        engine.dispose()
    from readers.health import holds_nothing, nothing_configured

    if holds_nothing(settings, reports):  # eight "never synced" lines would not say what to do
        raise ConfigError(nothing_configured("show"))
    if json_output:  # one account: its report as it always was; several: each under `accounts`
        document = reports[0] if len(reports) == 1 else {"accounts": reports}
        click.echo(redact(json.dumps(document, default=str, indent=2)))
    else:
        if local_time:
            from dashboard.localtime import show_in_page_zone

            for report in reports:
                show_in_page_zone(report)
        click.echo(redact(format_statuses(reports)))


def _check(json_output: bool, accounts=()) -> int:
    """`status --check`: one stderr line per problem and, with --json, the report on stdout, whatever failed."""
    from readers.health import check_accounts, failed_check
    from storage.accounts import UnknownAccount
    from storage.engine import DatabaseUnavailable
    from sync.service import load_settings, open_database

    try:
        settings = load_settings()
        engine = open_database(settings)
    except ConfigError as exc:
        result = failed_check(EXIT_USAGE, "configuration", exc.format_message())
    except DatabaseUnavailable as exc:
        result = failed_check(EXIT_FAILED, "database", str(exc))
    else:
        try:
            result = check_accounts(engine, settings, accounts)
        except UnknownAccount as exc:
            result = failed_check(EXIT_USAGE, "configuration", str(exc))
        finally:
            engine.dispose()
    _print_check(result, json_output)
    return result["exit_code"]


def _print_check(result: dict, json_output: bool) -> None:
    # Several accounts (or one not called default): each line names its account.
    named = len(result["accounts"]) > 1 or any(a["account"] not in (None, DEFAULT_ACCOUNT) for a in result["accounts"])
    for problem in result["problems"]:
        prefix = f"{problem['account']}: " if named and problem.get("account") else ""
        click.echo(redact(prefix + problem["message"]), err=True)
    if json_output:
        from readers.export import json_default

        click.echo(redact(json.dumps(result, default=json_default, indent=2)))
    elif named and sys.stdout.isatty():
        for verdict in result["accounts"]:
            word = "ok" if verdict["exit_code"] == 0 else f"exit {verdict['exit_code']}"
            click.echo(f"{verdict['account']}: {word} ({verdict['problems']} problem(s))")
    elif not result["problems"] and sys.stdout.isatty():
        click.echo("ok: every resource in use is fresh")
