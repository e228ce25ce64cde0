"""The `mcp` command; etl.py registers it (the server and its SDK are imported only when it runs)."""
from __future__ import annotations

import click


@click.command()
def mcp():
    """Serve the database read-only to an AI assistant (MCP over stdio); never calls WHOOP or Withings."""
    from configuration.settings import get_settings
    from mcp_server.server import serve_stdio

    try:
        settings = get_settings()
    except ValueError as exc:
        raise click.ClickException(f"configuration: {exc}") from None
    serve_stdio(settings.database_url)
