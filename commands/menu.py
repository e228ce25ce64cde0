"""The `menu` command: the interactive menu (run_app.py) from the installed command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

# The menu sits above the commands (it dispatches to them), so it runs as a program of its own;
# pip installs run_app.py beside this package, as it sits in a checkout.
MENU_PROGRAM = Path(__file__).resolve().parents[1] / "run_app.py"


@click.command()
@click.pass_context
def menu(ctx):
    """Open the interactive menu (run_app.py): sync, status, connect, dashboard, export."""
    ctx.exit(subprocess.call([sys.executable, str(MENU_PROGRAM)]))
