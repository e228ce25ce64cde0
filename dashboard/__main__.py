"""`python -m dashboard`: serve the read-only dashboard (host, port and database from settings)."""
from __future__ import annotations

import sys

import click


@click.command()
@click.option("--host", default=None, help="Address to bind (default: DASHBOARD_HOST, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on (default: DASHBOARD_PORT, else 8050; 0 picks a free one).")
@click.option("--database-url", default=None, metavar="URL",
              help="SQLAlchemy URL to read (default: DATABASE_URL, else the project's SQLite file).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
def main(host, port, database_url, open_browser):
    """Serve the read-only WHOOP and Withings dashboard on this machine."""
    from dashboard import serve
    from dashboard.server import DashboardUnavailable
    from db import DatabaseUnavailable
    from settings import get_settings

    try:
        settings = get_settings()
    except ValueError as exc:  # a setting out of range: a usage error, as in etl.py
        raise click.UsageError(str(exc)) from None
    try:
        serve(database_url or settings.database_url, host or settings.dashboard_host,
              settings.dashboard_port if port is None else port, open_browser=open_browser)
    except (DashboardUnavailable, DatabaseUnavailable) as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())
