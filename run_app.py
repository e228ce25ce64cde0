"""Interactive menu: it only dispatches to the run service and the commands `etl.py` registers."""

from __future__ import annotations

import sys
from pathlib import Path

from configuration.exits import EXIT_LOCKED, EXIT_OK, EXIT_RECONNECT, EXIT_USAGE

MENU = """
WHOOP Data Platform
  1  Run the ETL (incremental, every account)
  2  Full reload (whole history)
  3  Status
  4  Connect WHOOP / Withings
  5  Open the dashboard
  6  Export the daily table (one row per day, CSV)
  q  Quit
"""

OUTCOME_MESSAGES = {
    EXIT_OK: "All synced.",
    EXIT_USAGE: "No source is configured: set WHOOP_CLIENT_ID/WHOOP_CLIENT_SECRET and/or "
    "WITHINGS_CLIENT_ID/WITHINGS_CLIENT_SECRET in {env_file}, then choose 4 to connect.",
    EXIT_RECONNECT: "A provider must be re-connected: choose 4.",
    EXIT_LOCKED: "Every account is being synced by another process; try again later.",
}


def _run_etl(full: bool) -> None:
    import click

    import commands  # noqa: F401 - installs the MQTT publisher, so the menu's run publishes as etl.py's does
    from configuration.invocation import env_file_hint
    from storage.engine import DatabaseUnavailable
    from sync import service
    from sync.lock import RunLocked
    from sync.run import RunOptions, overall_exit

    try:  # every account, as `whoop-etl` with no --account
        outcomes = service.run_every_account(RunOptions(full=full, interactive=sys.stdout.isatty()))
        lines = service.account_lines(outcomes) if len(outcomes) > 1 else []
    except (RunLocked, DatabaseUnavailable, click.ClickException) as exc:
        print(f"error: {exc.format_message() if isinstance(exc, click.ClickException) else exc}")
        return
    for source, reason in outcomes[0].skipped:  # the same settings for every account
        print(f"{source} skipped: {reason}")
    for line in lines:
        print(line)
    code = overall_exit(outcomes)
    message = OUTCOME_MESSAGES.get(code, "Some resources failed; the next run finishes them.")
    print(message.format(env_file=env_file_hint()))


def _status() -> None:
    from commands.status import status

    _invoke(status, [])


def _connect(ask) -> None:
    choice = ask("Connect which provider? [whoop/withings]: ").strip().lower()
    if choice not in ("whoop", "withings"):
        print(f"unknown provider {choice!r}: type whoop or withings")
        return
    account = ask("Under which account? [default]: ").strip() or "default"
    from commands.connect import connect

    _invoke(connect, [choice, "--account", account])


def _dashboard() -> None:
    from commands.dashboard import dashboard

    _invoke(dashboard, ["--open"])


def _export_daily(ask) -> None:
    from commands.export import export
    from configuration.settings import default_sqlite_path

    # The data folder, never the checkout (or wherever the menu was started): health data stays
    # beside the database, which is git-ignored in a checkout and private when installed.
    default = default_sqlite_path().parent
    folder = Path(ask(f"Folder for daily.csv [{default}]: ").strip() or default).expanduser()
    _invoke(export, ["daily", "--output", str(folder), "--force"])
    if (folder / "daily.csv").is_file():
        print(f"daily.csv written to {folder / 'daily.csv'}")


def _invoke(command, args: list[str]) -> None:
    """Run a command in-process, as `etl.py` would; its errors print as one line, never a traceback."""
    try:
        command.main(args=args, prog_name=f"etl.py {command.name}", standalone_mode=False)
    except KeyboardInterrupt:
        print()
    except Exception as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"error: {message}")


def main(ask=input) -> int:
    """Show the menu until `q` or end of input."""
    from configuration.invocation import note_menu

    note_menu()
    actions = {
        "1": lambda: _run_etl(False),
        "2": lambda: _run_etl(True),
        "3": _status,
        "4": lambda: _connect(ask),
        "5": _dashboard,
        "6": lambda: _export_daily(ask),
    }
    while True:
        print(MENU)
        try:
            choice = ask("Choose: ").strip().lower()
        except (EOFError, KeyboardInterrupt):
            print("\nBye.")
            return 0
        if choice in ("q", "quit", "exit"):
            print("Bye.")
            return 0
        action = actions.get(choice)
        if action is None:
            print(f"'{choice}' is not an option: type 1-6 or q.")
            continue
        action()


if __name__ == "__main__":
    from configuration.logs import setup_logging

    setup_logging()
    sys.exit(main())
