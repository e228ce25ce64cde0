"""The MCP tools over a read-only engine; `serve_stdio` is what `whoop-etl mcp` runs."""

from __future__ import annotations

import os
from datetime import date

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from sqlalchemy.engine import Engine

from configuration.version import __version__
from mcp_server import queries
from mcp_server.readonly import (
    MAX_REPLY_BYTES,
    MAX_ROWS,
    QUERY_TIMEOUT_SECONDS,
    QueryRefused,
    open_read_only,
    run_query,
)
from readers import metrics

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
INSTRUCTIONS = (
    "Health data synced from WHOOP (cycles, recovery, sleep, workouts) and Withings (weight, body "
    "composition, blood pressure, steps, sleep) into a local database. Times are ISO 8601 in UTC; daily "
    "series read the `daily` view, one row per local day. Values flagged as implausible are "
    "left out of latest values and series. Everything is read-only; OAuth tokens are not reachable."
)

SERIES_HELP = (
    "A metric per local day from start_date to end_date (inclusive): the value of the day's counted "
    "reading, from the `daily` view. Metrics: " + ", ".join(metrics.BY_NAME) + "."
)
QUERY_HELP = (
    "Run one read-only SELECT (or WITH) query on the database (see list_tables). "
    f"At most {MAX_ROWS} rows (`limit`) and {MAX_REPLY_BYTES // 1_000_000} MB (`truncated` says when "
    f"either cut the reply); stopped after {QUERY_TIMEOUT_SECONDS:g} s. One statement; only the "
    "tables list_tables shows; writes and the OAuth token table are refused."
)


def build_server(engine: Engine, query_timeout: float = QUERY_TIMEOUT_SECONDS) -> MCPServer:
    """An MCP server whose tools only read through `engine` (which must be read-only)."""
    server = MCPServer("whoop-etl", version=__version__, instructions=INSTRUCTIONS)

    def read(fn, *args):
        try:
            with engine.connect() as conn:
                return fn(conn, *args)
        except ValueError as exc:  # a bad argument: the model reads why and asks again
            raise ToolError(str(exc)) from None

    @server.tool(annotations=READ_ONLY)
    def latest_measurements() -> dict:
        """Every metric's latest counted value (weight, recovery, hrv, steps, sleep_hours, bp_systolic, ...)."""
        return read(queries.latest_measurements)

    @server.tool(annotations=READ_ONLY, description=SERIES_HELP)
    def daily_series(metric: str, start_date: date, end_date: date) -> dict:
        return read(queries.daily_series, metric, start_date, end_date)

    @server.tool(annotations=READ_ONLY)
    def recent_workouts(days: int = 14, limit: int = 20) -> list[dict]:
        """Workouts that started in the last `days` days, newest first (sport, strain, heart rate, energy)."""
        return read(queries.recent_workouts, max(1, days), max(1, min(limit, 200)))

    @server.tool(annotations=READ_ONLY)
    def sync_freshness() -> list[dict]:
        """Per WHOOP and Withings resource: last sync, newest record, whether it is stale and why, any error."""
        return read(queries.sync_freshness)

    @server.tool(annotations=READ_ONLY)
    def list_tables() -> dict:
        """Tables and their columns, for writing SQL for `query`."""
        return read(queries.list_tables)

    @server.tool(annotations=READ_ONLY, description=QUERY_HELP)
    def query(sql: str, limit: int = 100) -> dict:
        try:
            return run_query(engine, sql, limit=limit, timeout=query_timeout)
        except QueryRefused as exc:
            raise ToolError(str(exc)) from None

    return server


def database_url_for_mcp(default_url: str) -> str:
    """MCP_DATABASE_URL when set (PostgreSQL: a read-only role), else the ETL's database."""
    return os.environ.get("MCP_DATABASE_URL", "").strip() or default_url


def serve_stdio(default_url: str) -> None:
    """Serve the tools over stdin/stdout until the client closes them."""
    engine = open_read_only(database_url_for_mcp(default_url))
    try:
        build_server(engine).run("stdio")
    finally:
        engine.dispose()
