"""The `serve` and `webhooks` commands (the receiver itself, webhooks/, loads only when one runs)."""

from __future__ import annotations

import click

from configuration.exits import ConfigError
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
    """Push from WHOOP and Withings: the secret of the Withings notification URL."""


@webhooks.command(name="secret")
def secret():
    """Print a new random WITHINGS_WEBHOOK_SECRET (256 bits) to put in .env."""
    from webhooks.verify import generate_secret

    click.echo(f"WITHINGS_WEBHOOK_SECRET={generate_secret()}")
