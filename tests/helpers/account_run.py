"""`python -m tests.helpers.account_run ACCOUNT WHEN`: `etl.py --json --source whoop --account ACCOUNT
--wait 120` in a process of its own, on a clock frozen at WHEN (ISO-8601, UTC).

The clock is replaced before anything reads it, so the run's rate windows are the test's, whatever
the time of day. Prints the JSON summary; exits with the run's exit code.
"""

from __future__ import annotations

import sys
from datetime import datetime


def main(account: str, when: str) -> None:
    from configuration import clock

    frozen = datetime.fromisoformat(when)
    clock.utcnow = lambda: frozen  # before etl imports the layers that read it

    import etl

    etl.cli.main(["--json", "--source", "whoop", "--account", account, "--wait", "120"], prog_name="etl.py")


if __name__ == "__main__":
    main(*sys.argv[1:3])
