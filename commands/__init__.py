"""The commands floor: every `whoop-etl` command, one module per command or group, each parsing its
options, calling a service (the run service in sync/, the readers, the dashboard, the MCP server)
and printing. etl.py's root group is a `LazyGroup` over `COMMANDS` and hands a run to `commands.run`."""

from __future__ import annotations

import importlib

import click

from publish.listener import open_listener
from sync import hooks

# Every command of the root group: its name -> the module that defines it, as an attribute of the
# same name (a `-` in the name is a `_` there). Adding a command is one line here. A module loads
# only when its command runs or `--help` lists it, so a routine run imports none of them.
COMMANDS = {
    "accounts": "commands.accounts",
    "backup": "commands.backup",
    "connect": "commands.connect",
    "dashboard": "commands.dashboard",
    "export": "commands.export",
    "mcp": "commands.mcp",
    "menu": "commands.menu",
    "mqtt": "commands.mqtt",
    "quarantine": "commands.quarantine",
    "restore": "commands.restore",
    "serve": "commands.webhooks",
    "status": "commands.status",
    "watch": "commands.watch",
    "webhooks": "commands.webhooks",
    "worker": "commands.worker",
}


class LazyGroup(click.Group):
    """A click group whose commands (`lazy_commands`: name -> module) load when first asked for."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, sorted, without loading any."""
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The command `name`, its module imported on first use; None for an unknown name."""
        if name not in self.commands and name in self.lazy_commands:
            module = importlib.import_module(self.lazy_commands[name])
            loaded = getattr(module, name.replace("-", "_"))
            if loaded.name != name:
                raise LookupError(f"{self.lazy_commands[name]}.{name.replace('-', '_')} is the `{loaded.name}` command")
            self.add_command(loaded, name)
        return self.commands.get(name)


# Every door (etl.py and the menu) imports this package, so installing the publisher here makes
# every run, `watch` and `worker` publish after it commits (when MQTT_URL is set) whichever door
# started it. The factory imports nothing of paho or the read model until it has work.
hooks.install(open_listener)
