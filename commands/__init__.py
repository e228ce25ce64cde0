"""The commands floor: every `whoop-etl` command, one module per command or group, each parsing its
options, calling a service (the run service in sync/, the readers, the dashboard, the MCP server)
and printing. etl.py's root group registers `COMMANDS` and hands a run to `commands.run`."""

from __future__ import annotations

from commands.accounts import accounts
from commands.connect import connect
from commands.dashboard import dashboard
from commands.export import export
from commands.mcp import mcp
from commands.quarantine import quarantine
from commands.status import status
from commands.watch import watch
from commands.worker import worker

COMMANDS = (status, connect, watch, worker, dashboard, accounts, export, quarantine, mcp)
