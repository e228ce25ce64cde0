"""The `dashboard` command: `python -m dashboard` and `python etl.py dashboard` are this one command."""

from __future__ import annotations

import click

from configuration.accounts import account_option
from configuration.exits import ConfigError


@click.command(name="dashboard")
@click.option("--host", default=None, help="Address to bind (default: DASHBOARD_HOST, else 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (default: DASHBOARD_PORT, else 8050; 0 picks a free one).",
)
@click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="SQLAlchemy URL to read (default: DATABASE_URL, else the project's SQLite file).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@account_option(
    multiple=False, help="The account the page shows first (default: the first one); the page picks others."
)
def dashboard(host, port, database_url, open_browser, account):
    """Serve the read-only WHOOP and Withings dashboard on this machine."""
    from configuration.settings import get_settings
    from dashboard.server import DashboardUnavailable, serve
    from storage.accounts import UnknownAccount
    from storage.engine import DatabaseUnavailable

    try:
        settings = get_settings()
    except ValueError as exc:
        raise ConfigError(f"configuration: {exc}") from None
    try:
        serve(
            database_url or settings.database_url,
            host or settings.dashboard_host,
            settings.dashboard_port if port is None else port,
            open_browser=open_browser,
            account=account,
        )
    except (DashboardUnavailable, DatabaseUnavailable) as exc:  # a busy port (named), an unusable database
        raise click.ClickException(str(exc)) from None
    except UnknownAccount as exc:  # the message lists the accounts
        raise ConfigError(str(exc)) from None
