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
from storage import account_policy
from storage.accounts import UnknownAccount

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
INSTRUCTIONS = (
    "Health data synced from WHOOP (cycles, recovery, sleep, workouts) and Withings (weight, body "
    "composition, blood pressure, steps, sleep, workouts, ECG recordings) into a local database. Times are ISO 8601 in UTC; daily "
    "series read the `daily` view (or `daily_detail`, `daily` and more columns), one row per local day. Values flagged as implausible are "
    "left out of latest values and series. Everything is read-only; OAuth tokens are not reachable. "
    "The database may hold several people (accounts): every answer names its `account`."
)

SERIES_HELP = (
    "A metric per local day from start_date to end_date (inclusive): the value of the day's counted "
    "reading, from the `daily` view (`daily_detail` for the series, workout and ECG metrics). Metrics: "
    + ", ".join(metrics.BY_NAME)
    + "."
)
QUERY_HELP = (
    "Run one read-only SELECT (or WITH) query on the database (see list_tables). "
    f"At most {MAX_ROWS} rows (`limit`) and {MAX_REPLY_BYTES // 1_000_000} MB (`truncated` says when "
    f"either cut the reply); stopped after {QUERY_TIMEOUT_SECONDS:g} s. One statement; only the "
    "tables list_tables shows; writes and the OAuth token table are refused. It sees the raw tables "
    "of every account, whatever the server's --account: one person's rows are those whose user_id is "
    "in account_provider for that account and provider (join account on account_id for the name)."
)


def build_server(
    engine: Engine,
    query_timeout: float = QUERY_TIMEOUT_SECONDS,
    accounts: tuple[str, ...] = (),
    allow_query: bool = False,
) -> MCPServer:
    """An MCP server whose tools only read through `engine` (which must be read-only), for the
    accounts named (none: every account, each answer naming its account).

    `query` runs raw SQL over every account's rows, so a server limited to some accounts offers
    it only when `allow_query` says so: `--account` is a view, and a model told to answer for
    alice must not be handed bob's rows by default."""
    server = MCPServer("whoop-etl", version=__version__, instructions=INSTRUCTIONS)

    def read(fn, *args) -> list[tuple[str | None, object]]:
        """(account name, answer) per account, read on one connection."""
        try:
            with engine.connect() as conn:
                chosen = account_policy.to_read(conn, accounts)
                return [(scope.name, fn(conn, *args, account=scope.id)) for scope in chosen]
        except (ValueError, UnknownAccount) as exc:  # a bad argument: the model reads why and asks again
            raise ToolError(str(exc)) from None

    _add_read_model_tools(server, read)
    _add_sql_tools(server, engine, query_timeout, offer_query=allow_query or not accounts)
    return server


def _summaries(answers: list) -> dict:
    """One account: its answer with `account`; several: each under `accounts`."""
    if len(answers) == 1:
        return {"account": answers[0][0], **answers[0][1]}
    return {"accounts": [{"account": name, **answer} for name, answer in answers]}


def _rows(answers: list) -> list[dict]:
    return [{"account": name, **row} for name, found in answers for row in found]


def _add_read_model_tools(server: MCPServer, read) -> None:
    """The tools that answer from the read model, per account (`read` runs a query for each)."""

    @server.tool(annotations=READ_ONLY)
    def latest_measurements() -> dict:
        """Every metric's latest counted value (weight, recovery, hrv, steps, sleep_hours, bp_systolic, ...), per account."""
        return _summaries(read(queries.latest_measurements))

    @server.tool(annotations=READ_ONLY, description=SERIES_HELP)
    def daily_series(metric: str, start_date: date, end_date: date) -> dict:
        return _summaries(read(queries.daily_series, metric, start_date, end_date))

    @server.tool(annotations=READ_ONLY)
    def recent_workouts(days: int = 14, limit: int = 20) -> list[dict]:
        """Workouts that started in the last `days` days, newest first (sport, strain, heart rate, energy), with their account."""
        found = _rows(read(queries.recent_workouts, max(1, days), max(1, min(limit, 200))))
        return sorted(found, key=lambda w: w["start"] or "", reverse=True)[: max(1, min(limit, 200))]

    @server.tool(annotations=READ_ONLY)
    def sleep_night(night_date: date) -> dict:
        """One night from a Withings sleep monitor or watch, by the local day it ended: its sleep states, its minutes (heart rate, breathing, HRV, snoring, movement; at most 2,000) and its lowest and average heart rate, average HRV (RMSSD) and breathing rate, per account."""
        return _summaries(read(queries.sleep_night, night_date))

    @server.tool(annotations=READ_ONLY)
    def ecg_recordings(days: int = 365, limit: int = 20) -> list[dict]:
        """Withings ECG recordings of the last `days` days, newest first (at most 200): time, device, heart rate and AFib classification (negative, positive, inconclusive; none for a failed recording), with their account. The samples are not sent."""
        found = _rows(read(queries.ecg_recordings, max(1, days), max(1, min(limit, 200))))
        return sorted(found, key=lambda e: e["recorded_at"] or "", reverse=True)[: max(1, min(limit, 200))]

    @server.tool(annotations=READ_ONLY)
    def sync_freshness() -> list[dict]:
        """Per account and WHOOP and Withings resource: last sync, newest record, whether it is stale and why, any error."""
        return _rows(read(queries.sync_freshness))


def _add_sql_tools(server: MCPServer, engine: Engine, query_timeout: float, *, offer_query: bool) -> None:
    """The tools that show the schema and, when `offer_query`, run a read-only query on it (every account's rows)."""

    @server.tool(annotations=READ_ONLY)
    def list_tables() -> dict:
        """Tables and their columns, for writing SQL for `query`."""
        with engine.connect() as conn:  # the schema: the same for every account
            return queries.list_tables(conn)

    if not offer_query:
        return

    @server.tool(annotations=READ_ONLY, description=QUERY_HELP)
    def query(sql: str, limit: int = 100) -> dict:
        try:
            return run_query(engine, sql, limit=limit, timeout=query_timeout)
        except QueryRefused as exc:
            raise ToolError(str(exc)) from None


def database_url_for_mcp(default_url: str) -> str:
    """MCP_DATABASE_URL when set (PostgreSQL: a read-only role), else the ETL's database."""
    return os.environ.get("MCP_DATABASE_URL", "").strip() or default_url


def serve_stdio(default_url: str, accounts: tuple[str, ...] = (), allow_query: bool = False) -> None:
    """Serve the tools over stdin/stdout until the client closes them; UnknownAccount before
    serving when a named account does not exist. With `accounts`, `query` only if `allow_query`."""
    engine = open_read_only(database_url_for_mcp(default_url))
    try:
        with engine.connect() as conn:
            account_policy.to_read(conn, accounts)
        build_server(engine, accounts=accounts, allow_query=allow_query).run("stdio")
    finally:
        engine.dispose()
