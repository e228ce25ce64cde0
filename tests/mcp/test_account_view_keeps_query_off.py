"""`mcp --account` is a view, not a wall: its `query` tool (raw SQL over every account) is off
unless the user opts in with --allow-query."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner
from mcp import Client

import etl
from mcp_server.readonly import open_read_only
from mcp_server.server import build_server
from tests.helpers.data import fill


def _tools(url: str, **options) -> set[str]:
    async def run():
        engine = open_read_only(url)
        try:
            async with Client(build_server(engine, **options)) as client:
                return {t.name for t in (await client.list_tools()).tools}
        finally:
            engine.dispose()

    return asyncio.run(run())


def test_query_is_off_with_account_unless_allowed(db_url):
    fill(db_url)
    assert "query" in _tools(db_url)  # every account: the whole database is the user's view anyway
    assert "query" not in _tools(db_url, accounts=("default",))
    assert "latest_measurements" in _tools(db_url, accounts=("default",))
    assert "query" in _tools(db_url, accounts=("default",), allow_query=True)


def test_the_command_offers_the_opt_in():
    result = CliRunner().invoke(etl.cli, ["mcp", "--help"])
    assert result.exit_code == 0 and "--allow-query" in result.output
