"""The commands floor: every `whoop-etl` command, one module per command or group, each parsing its
options, calling a service (the run service in sync/, the readers, the dashboard, the MCP server)
and printing. etl.py's root group registers `COMMANDS` and hands a run to `commands.run`."""

from __future__ import annotations

from commands.accounts import accounts
from commands.backup import backup
from commands.connect import connect
from commands.dashboard import dashboard
from commands.export import export
from commands.mcp import mcp
from commands.menu import menu
from commands.mqtt import mqtt
from commands.quarantine import quarantine
from commands.restore import restore
from commands.status import status
from commands.watch import watch
from commands.webhooks import serve, webhooks
from commands.worker import worker
from publish.listener import open_listener
from sync import hooks

COMMANDS = (
    status,
    connect,
    watch,
    worker,
    dashboard,
    accounts,
    export,
    quarantine,
    mcp,
    mqtt,
    serve,
    webhooks,
    backup,
    restore,
    menu,
)

# Every door (etl.py and the menu) imports this package, so installing the publisher here makes
# every run, `watch` and `worker` publish after it commits (when MQTT_URL is set) whichever door
# started it. The factory imports nothing of paho or the read model until it has work.
hooks.install(open_listener)
