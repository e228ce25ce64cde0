"""`python -m sandbox`: serve the WHOOP and Withings stand-ins until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from .server import SandboxServer
from .timeutil import parse_iso


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port; 0 picks a free one (default 8787)")
    parser.add_argument("--days", type=int, default=1095, help="days of history (default 1095)")
    parser.add_argument(
        "--series-days", type=int, default=14, help="days with Withings sleep series and intraday samples (default 14)"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated history (default 42)")
    parser.add_argument(
        "--now", type=parse_iso, default=None, help="ISO date-time the virtual clock starts at (default: the real time)"
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="added latency per request")
    parser.add_argument(
        "--whoop-rate-limit",
        type=int,
        default=None,
        help="enforce N WHOOP requests per minute (429 beyond); off by default",
    )
    parser.add_argument(
        "--withings-rate-limit",
        type=int,
        default=None,
        help="enforce N Withings requests per minute (status 601 beyond); off by default",
    )
    parser.add_argument(
        "--whoop-daily-limit",
        type=int,
        default=None,
        help="enforce N WHOOP requests per day, all people together (429 beyond); off by default",
    )
    parser.add_argument(
        "--people",
        type=int,
        default=1,
        help="sandbox people, each with a history of its own (default 1); person 0 is user 10129",
    )
    parser.add_argument("--page-size", type=int, default=200, help="Withings getmeas groups per page")
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="write WHOOP_*/WITHINGS_* settings with fresh refresh tokens to this file",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--push-whoop-url", default=None, help="deliver signed WHOOP webhooks here on data changes")
    parser.add_argument("--push-withings-url", default=None, help="deliver Withings notifications here")
    return parser


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Start the server, print its URL (flushed, for a parent process) and serve until stopped."""
    args = _parser().parse_args(argv)
    server = SandboxServer(
        host=args.host,
        port=args.port,
        verbose=args.verbose,
        seed=args.seed,
        days=args.days,
        series_days=args.series_days,
        now=args.now,
        latency_ms=args.latency_ms,
        whoop_rate_limit=args.whoop_rate_limit,
        withings_rate_limit=args.withings_rate_limit,
        withings_page_size=args.page_size,
        people=args.people,
        whoop_daily_limit=args.whoop_daily_limit,
    )
    server.push.configure(whoop_url=args.push_whoop_url, withings_url=args.push_withings_url)
    if args.env_file:
        lines = [f"{key}={value}" for key, value in server.environment().items()]
        args.env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # SIGTERM (e.g. from a parent's terminate()) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    state = server.state()
    print(f"sandbox listening on {server.url}", flush=True)
    print(
        f"  history {state['first_day']} .. {state['last_day']}, clock {state['now']}, "
        f"WHOOP user {state['whoop']['user_id']}, Withings userid {state['withings']['userid']}; "
        f"admin at {server.url}/_sandbox/state; Ctrl-C to stop",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
