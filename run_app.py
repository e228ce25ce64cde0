"""Interactive menu: it only dispatches to the functions `etl.py` uses."""

from __future__ import annotations

import sys
from pathlib import Path

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
    0: "All synced.",
    2: "No source is configured: set WHOOP_CLIENT_ID/WHOOP_CLIENT_SECRET and/or "
    "WITHINGS_CLIENT_ID/WITHINGS_CLIENT_SECRET in {env_file}, then choose 4 to connect.",
    3: "A provider must be re-connected: choose 4.",
    75: "Every account is being synced by another process; try again later.",
}


def _run_etl(full: bool) -> None:
    import click

    import etl
    from configuration.invocation import env_file_hint
    from storage.engine import DatabaseUnavailable
    from sync.lock import RunLocked
    from sync.run import overall_exit

    try:  # every account, as `whoop-etl` with no --account
        outcomes = etl.run_every_account(full=full, interactive=sys.stdout.isatty())
        lines = etl.account_lines(outcomes) if len(outcomes) > 1 else []
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
    _invoke(["status"])


def _connect(ask) -> None:
    choice = ask("Connect which provider? [whoop/withings]: ").strip().lower()
    if choice not in ("whoop", "withings"):
        print(f"unknown provider {choice!r}: type whoop or withings")
        return
    account = ask("Under which account? [default]: ").strip() or "default"
    _invoke(["connect", choice, "--account", account])


def _dashboard() -> None:
    _invoke(["dashboard", "--open"])


def _export_daily(ask) -> None:
    from configuration.settings import default_sqlite_path

    # The data folder, never the checkout (or wherever the menu was started): health data stays
    # beside the database, which is git-ignored in a checkout and private when installed.
    default = default_sqlite_path().parent
    folder = Path(ask(f"Folder for daily.csv [{default}]: ").strip() or default).expanduser()
    _invoke(["export", "daily", "--output", str(folder), "--force"])
    if (folder / "daily.csv").is_file():
        print(f"daily.csv written to {folder / 'daily.csv'}")


def _invoke(args: list[str]) -> None:
    """Run an etl.py subcommand in-process; its errors print as one line, never a traceback."""
    import etl

    try:
        etl.cli.main(args=args, prog_name="etl.py", standalone_mode=False)
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
