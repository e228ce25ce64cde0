"""A local stand-in for the WHOOP v2 and Withings APIs (tests, the demo, benchmarks).

    with SandboxServer(days=365, seed=7) as sb:
        sb.url, sb.whoop_credentials, sb.mint_refresh_token("whoop"), sb.advance_day()

Command line: ``python -m sandbox --port 8787 --days 1095 --seed 42``.
"""

from .app import Credentials, SandboxApp
from .auth import WHOOP_CLIENT_ID, WHOOP_CLIENT_SECRET, WITHINGS_CLIENT_ID, WITHINGS_CLIENT_SECRET
from .faults import FAULT_KINDS, FaultRule
from .person import WHOOP_USER_ID, WITHINGS_USER_ID
from .server import SandboxServer

__all__ = [
    "Credentials",
    "FAULT_KINDS",
    "FaultRule",
    "SandboxApp",
    "SandboxServer",
    "WHOOP_CLIENT_ID",
    "WHOOP_CLIENT_SECRET",
    "WHOOP_USER_ID",
    "WITHINGS_CLIENT_ID",
    "WITHINGS_CLIENT_SECRET",
    "WITHINGS_USER_ID",
]
