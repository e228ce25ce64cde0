"""The command the user typed and the `.env` they edit: every message that tells them what to do names these."""

from __future__ import annotations

import sys
from pathlib import Path

from configuration import settings

CHECKOUT_COMMAND, INSTALLED_COMMAND = "python etl.py", "whoop-etl"
_program: str | None = None  # how etl.main was started; None: judge by how this copy is laid out
_in_menu = False  # the menu (run_app.py) runs the commands: its options are the next step, not a command line


def note_invocation(argv0: str) -> None:
    """Remember whether the user ran the `whoop-etl` console script or `python etl.py` (from argv[0])."""
    global _program
    name = Path(argv0).name.lower()
    if name.startswith(INSTALLED_COMMAND):  # whoop-etl, whoop-etl.exe, whoop-etl-script.py (Windows)
        _program = INSTALLED_COMMAND
    elif name == "etl.py":
        _program = CHECKOUT_COMMAND


def note_menu() -> None:
    """The commands run inside the menu from now on: "choose 1" is how the user syncs there."""
    global _in_menu
    _in_menu = True


def sync_step() -> str:
    """How the user syncs next: "choose 1" in the menu, else "run `whoop-etl`" (or `python etl.py`)."""
    return "choose 1" if _in_menu else f"run `{command()}`"


def program() -> str:
    """`whoop-etl` for the installed command, `python etl.py` in a checkout."""
    if _program:
        return _program
    # Not started through etl.main (the menu, `python -m dashboard`, a test): a checkout is run
    # as `python etl.py`; an installed copy has only its console script.
    return CHECKOUT_COMMAND if settings.is_checkout() else INSTALLED_COMMAND


def command(*args: str) -> str:
    """The command line the user types, e.g. command("connect", "whoop") -> `whoop-etl connect whoop`."""
    return " ".join((program(), *args))


def env_file_hint() -> str:
    """Where settings go: the real path of `.env` (installed copies ship no `.env.example`)."""
    env_file = settings.home_dirs()[0] / ".env"
    if settings.is_checkout():
        return f"{env_file} (see .env.example)"
    return str(env_file)


def install_kind() -> str:
    """How this copy was installed: "checkout", "pipx", "uv" (uv tool) or "pip" (a virtualenv or other)."""
    if settings.is_checkout():
        return "checkout"
    prefix = Path(sys.prefix).as_posix()
    if "/pipx/venvs/" in prefix:  # pipx keeps each app in ~/.local/share/pipx/venvs/<name>
        return "pipx"
    if "/uv/tools/" in prefix:  # uv tool: ~/.local/share/uv/tools/<name>
        return "uv"
    return "pip"


def add_extra_hint(extra: str, requirement: str) -> str:
    """The command that adds the optional `extra` (whose requirement is `requirement`) to this install."""
    kind = install_kind()
    if kind == "checkout":
        return f"`.venv/bin/pip install -r requirements-{extra}.txt`"
    if kind == "pipx":
        return f"`pipx inject {INSTALLED_COMMAND} '{requirement}'`"
    if kind == "uv":
        return f"`uv tool install --force '/path/to/whoop-data-platform[{extra}]'`"
    return f"`{sys.executable} -m pip install '{requirement}'`"
