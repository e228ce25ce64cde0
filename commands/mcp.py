"""The `mcp` command (the server and its SDK are imported only when it runs)."""

from __future__ import annotations

import click

from configuration.accounts import account_option
from configuration.exits import ConfigError

MISSING_EXTRA = (
    "the MCP server is an optional extra: install it with `pip install 'whoop-etl[mcp]'` "
    "(in a checkout: `pip install -r requirements-mcp.txt`)"
)


@click.command()
@account_option(help="Only this account (repeatable). Default: every account, each answer naming its account.")
def mcp(accounts):
    """Serve the database read-only to an AI assistant (MCP over stdio); never calls WHOOP or Withings."""
    from configuration.settings import get_settings

    try:
        from mcp_server.server import serve_stdio
    except ModuleNotFoundError as exc:
        if exc.name != "mcp" and not (exc.name or "").startswith("mcp."):
            raise
        raise ConfigError(MISSING_EXTRA) from None
    try:
        settings = get_settings()
    except ValueError as exc:
        raise ConfigError(f"configuration: {exc}") from None
    from storage.accounts import UnknownAccount

    try:
        serve_stdio(settings.database_url, accounts)
    except UnknownAccount as exc:
        raise ConfigError(str(exc)) from None
