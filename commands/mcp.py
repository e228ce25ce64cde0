"""The `mcp` command (the server and its SDK are imported only when it runs)."""

from __future__ import annotations

import click

from configuration.accounts import account_option
from configuration.exits import ConfigError
from configuration.invocation import add_extra_hint

# The extra's one requirement, as requirements-mcp.txt pins it (an installed copy ships no requirements file).
MCP_REQUIREMENT = "mcp==2.3.0"


def missing_extra() -> str:
    """What to run to add the MCP extra, in the way this copy was installed."""
    return f"the MCP server is an optional extra: add it with {add_extra_hint('mcp', MCP_REQUIREMENT)}"


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
        raise ConfigError(missing_extra()) from None
    try:
        settings = get_settings()
    except ValueError as exc:
        raise ConfigError(f"configuration: {exc}") from None
    from storage.accounts import UnknownAccount

    try:
        serve_stdio(settings.database_url, accounts)
    except UnknownAccount as exc:
        raise ConfigError(str(exc)) from None
