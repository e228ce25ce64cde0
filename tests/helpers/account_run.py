"""`python -m tests.helpers.account_run ACCOUNT WHEN`: one account's WHOOP run in a process of its own,
as `etl.py` makes it (etl.run_complete_etl), on a clock frozen at WHEN (ISO-8601, UTC).

The clock is replaced before anything reads it, so the run's rate windows are the test's, whatever
the time of day. Prints the JSON summary; exits with the run's exit code.
"""

from __future__ import annotations

import sys
from datetime import datetime


def main(account: str, when: str) -> int:
    from configuration import clock

    frozen = datetime.fromisoformat(when)
    clock.utcnow = lambda: frozen  # before etl imports the layers that read it

    import etl
    from sync.report import Reporter

    reporter = Reporter(interactive=False, json_output=True)
    outcome = etl.run_complete_etl(account=account, sources=("whoop",), wait=120, reporter=reporter)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
