"""The `serve` and `webhooks` commands (the receiver itself, webhooks/, loads only when one runs)."""

from __future__ import annotations

import click

from commands.common import LOCAL_TIME_OPTION
from configuration.accounts import account_option
from configuration.exits import EXIT_FAILED, EXIT_OK, EXIT_RECONNECT, ConfigError, FailedError
from configuration.invocation import command
from webhooks import DEFAULT_PORT, DEFAULT_TRUSTED_PROXIES
from webhooks.ratelimit import DEFAULT_PER_MINUTE


@click.command(name="serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; keep 127.0.0.1 behind a tunnel or reverse proxy (docs/deploy/).",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="Port (0: a free one)."
)
@click.option(
    "--rate-limit",
    "rate_per_minute",
    type=click.IntRange(60, 100_000),
    default=DEFAULT_PER_MINUTE,
    show_default=True,
    help="Requests a minute one client may send (bursts of as many); more get 429.",
)
@click.option(
    "--trusted-proxies",
    default=DEFAULT_TRUSTED_PROXIES,
    show_default=True,
    help="Addresses whose X-Forwarded-For names the client (your tunnel or proxy), comma-separated.",
)
@click.option(
    "--process/--no-process",
    default=True,
    show_default=True,
    help="Fetch what each event names on a thread of this process; --no-process when the database "
    "role may only insert events (README) and `worker` or `watch` processes them.",
)
def serve(host, port, rate_per_minute, trusted_proxies, process):
    """Receive WHOOP webhooks and Withings notifications, committing each event before answering
    and fetching what it names."""
    from commands.common import open_engine
    from configuration.settings import get_settings
    from webhooks.server import serve as run_receiver

    try:
        settings = get_settings()
    except ValueError as exc:
        raise ConfigError(f"configuration: {exc}") from None
    if not settings.whoop.client_secret and not settings.withings_webhook_secret:
        raise ConfigError(
            "nothing to receive: set WHOOP_CLIENT_SECRET (WHOOP webhooks) or WITHINGS_WEBHOOK_SECRET "
            f"(Withings notifications; `{command()} webhooks secret` makes one) in .env"
        )
    open_engine(settings.database_url, at_head=True).dispose()  # a missing or old schema is named now
    try:
        run_receiver(settings, host, port, rate_per_minute, trusted_proxies, process=process)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@click.group(name="webhooks")
def webhooks():
    """Push from WHOOP and Withings: the Withings subscriptions, their state and the notification URL's secret."""


@webhooks.command(name="secret")
def secret():
    """Print a new random WITHINGS_WEBHOOK_SECRET (256 bits) to put in .env."""
    from webhooks.verify import generate_secret

    click.echo(f"WITHINGS_WEBHOOK_SECRET={generate_secret()}")


URL_OPTION_HELP = (
    "The notification URL `serve` answers: https://<your host>/webhooks/withings/<WITHINGS_WEBHOOK_SECRET>."
)
RESTRICTED_HELP = (
    "Allow a URL Withings accepts only from an app in restricted mode (10 users at most): "
    "plain HTTP, an IP address or localhost, another port."
)


def _subscription_command(action: str):
    """`webhooks subscribe|list|revoke`: one shape, three actions."""
    url_required = action != "list"
    docs = {
        "subscribe": "Subscribe the URL to every Withings category the platform reads (only those it lacks).",
        "list": "List each account's Withings subscriptions (and store them for `status --check`).",
        "revoke": "Remove the URL's Withings subscriptions, and only that URL's.",
    }

    @webhooks.command(name=action, help=docs[action])
    @account_option()
    @click.option("--url", required=url_required, default=None, metavar="URL", help=URL_OPTION_HELP)
    @click.option("--restricted", is_flag=True, help=RESTRICTED_HELP)
    @click.pass_context
    def run(ctx, accounts, url, restricted):
        ctx.exit(_manage(action, accounts, url, restricted))

    return run


def _manage(action: str, accounts, url: str | None, restricted: bool) -> int:
    from configuration.push import CallbackRefused, check_callback, register_callback_secrets
    from storage.accounts import UnknownAccount
    from sync import subscriptions
    from sync.service import load_settings, open_database

    settings = load_settings()
    if url:
        register_callback_secrets(url, settings.withings_webhook_secret)  # before any line could show it
        try:
            problems = check_callback(url, restricted=restricted)
        except CallbackRefused as exc:
            raise click.UsageError(str(exc)) from None
        for problem in problems:
            click.echo(f"warning: Withings accepts this URL only from an app in restricted mode: {problem}", err=True)
    if not settings.withings.configured:
        from configuration.invocation import env_file_hint

        raise ConfigError(
            f"Withings is not configured: set WITHINGS_CLIENT_ID and WITHINGS_CLIENT_SECRET in {env_file_hint()}"
        )
    engine = _engine(settings, open_database)
    try:
        chosen = subscriptions.chosen_accounts(engine, settings, accounts)
        outcomes = [subscriptions.manage(settings, engine, account, action, url) for account in chosen]
    except UnknownAccount as exc:
        raise ConfigError(str(exc)) from None
    finally:
        engine.dispose()
    return _print_outcomes(outcomes, action, url, settings.withings_webhook_secret)


def _engine(settings, open_database):
    from storage.engine import DatabaseUnavailable

    try:
        return open_database(settings)
    except DatabaseUnavailable as exc:
        raise FailedError(str(exc)) from None


def _print_outcomes(outcomes, action: str, url: str | None, secret: str | None) -> int:
    from configuration.logs import redact
    from configuration.push import mask_callback

    done = [o for o in outcomes if not o.skipped]
    if not done:
        raise ConfigError(f"no account is connected to Withings: run `{command('connect', 'withings')}`")
    shown = mask_callback(url, secret) if url else None
    for outcome in done:
        for line in _outcome_lines(outcome, action, shown):
            click.echo(redact(f"{outcome.account}: {line}"))
        if outcome.error:
            click.echo(redact(f"{outcome.account}: error: {outcome.error}"), err=True)
    if any(o.reconnect for o in done):
        return EXIT_RECONNECT
    return EXIT_FAILED if any(o.error for o in done) else EXIT_OK


def _outcome_lines(outcome, action: str, shown: str | None) -> list[str]:
    """`list`: every subscription Withings holds; `subscribe`/`revoke`: what changed and what the URL holds now."""
    from configuration.push import WITHINGS_APPLIS
    from readers.push import applis_named

    if action == "list":
        lines = [
            f"appli {applis_named([h['appli']])} -> {h['callback']}" + (" (this URL)" if h["mine"] else "")
            for h in outcome.held
        ]
        return lines or ([] if outcome.error else ["no subscription"])
    lines = []
    if outcome.added:
        lines.append(f"subscribed {shown} to {applis_named(outcome.added)}")
    if outcome.removed:
        lines.append(f"revoked {shown} from {applis_named(outcome.removed)}")
    if outcome.error:
        return lines
    mine = sorted({h["appli"] for h in outcome.held if h["mine"]})
    others = sum(not h["mine"] for h in outcome.held)
    if action == "subscribe":
        missing = [a for a in WITHINGS_APPLIS if a not in mine]
        state = (
            "every category"
            if not missing
            else f"{len(mine)} of {len(WITHINGS_APPLIS)}; missing {applis_named(missing)}"
        )
        verb = "holds" if outcome.added else "nothing to do: it already holds"
        lines.append(f"{verb} {state} for {shown}")
    elif not outcome.removed:
        lines.append(f"nothing to do: {shown} held no subscription")
    if others:
        lines.append(f"{others} subscription(s) to other URLs left as they are (`webhooks list` shows them)")
    return lines


subscribe = _subscription_command("subscribe")
list_subscriptions = _subscription_command("list")
revoke = _subscription_command("revoke")


@webhooks.command(name="status")
@account_option()
@click.option(
    "--stored",
    is_flag=True,
    help="Show the subscriptions the last subscribe/list stored instead of asking Withings (one request per account).",
)
@click.option("--json", "json_output", is_flag=True, help="Print the state as JSON (times in UTC).")
@LOCAL_TIME_OPTION
def push_status(accounts, stored, json_output, local_time):
    """Per account: whether push is on, what Withings holds subscribed, and when the last event came."""
    from configuration import clock
    from storage.accounts import UnknownAccount
    from sync import subscriptions
    from sync.service import load_settings, open_database

    settings = load_settings()
    engine = _engine(settings, open_database)
    try:
        chosen = subscriptions.chosen_accounts(engine, settings, accounts)
        errors = {}
        if not stored and settings.withings.configured:
            for account in chosen:  # a fresh list: Withings drops a subscription that keeps failing
                outcome = subscriptions.manage(settings, engine, account, "list", None)
                if outcome.error:
                    errors[outcome.account] = outcome.error
        reports = _push_reports(engine, settings, chosen, clock.utcnow(), local_time and not json_output)
    except UnknownAccount as exc:
        raise ConfigError(str(exc)) from None
    finally:
        engine.dispose()
    _print_status(reports, errors, json_output)
    ctx = click.get_current_context()
    ctx.exit(EXIT_FAILED if errors else EXIT_OK)


def _push_reports(engine, settings, chosen, now, local_time: bool) -> list[dict]:
    """Each account's push report, with the zone its times are shown in (`zone`, not in the JSON)."""
    from commands.common import display_zone
    from readers.push import push_report

    reports = []
    for name, account_id, _named in chosen:
        with engine.connect() as conn:
            providers = push_report(conn, account_id, settings, now)
        reports.append({"account": name, "providers": providers, "zone": display_zone(engine, local_time, account_id)})
    return reports


def _print_status(reports: list[dict], errors: dict, json_output: bool) -> None:
    import json

    from configuration.logs import redact
    from readers.push import applis_named, hours

    if json_output:
        from readers.export import json_default

        document = {"accounts": [{k: v for k, v in r.items() if k != "zone"} for r in reports], "errors": errors}
        click.echo(redact(json.dumps(document, default=json_default, indent=2)))
        return
    for report in reports:
        tz, zone_name = report["zone"]
        click.echo(f"{report['account']} (times in {zone_name})")
        for entry in report["providers"]:
            last = entry["last_event"]
            when = (
                "never"
                if last is None
                else f"{last.astimezone(tz):%Y-%m-%d %H:%M} ({hours(entry['hours_since_last_event'])} ago)"
            )
            state = ("on, silent" if entry["silent"] else "on") if entry["push"] else "off"
            line = f"  {entry['provider']}: push {state}; last event {when}"
            if entry["provider"] == "whoop":
                line += "; its URL is set in the WHOOP developer dashboard (README, Push)"
            else:
                subscribed = applis_named(entry["subscribed"]) or "nothing"
                line += f"; subscribed: {subscribed}"
                if entry["callbacks"]:
                    line += f" -> {', '.join(entry['callbacks'])}"
                if entry["missing"]:
                    line += f"; missing: {', '.join(map(str, entry['missing']))}"
            click.echo(redact(line))
        if report["account"] in errors:
            click.echo(redact(f"  withings: could not list the subscriptions: {errors[report['account']]}"), err=True)
