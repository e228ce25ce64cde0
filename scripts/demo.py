"""The demo: the real ETL against the bundled sandbox API into SQLite, then the dashboard."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import requests
from dotenv import dotenv_values

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# The sandbox writes this redirect URI into the demo's settings (sandbox/app.py DEFAULT_REDIRECT_URI).
CALLBACK_URI = "http://127.0.0.1:8765/callback"
# The sandbox enforces this many WHOOP requests a minute and says so in X-RateLimit-Limit. The demo
# also sets both providers' rates to it (Withings states none in its answers), so even the requests
# a run sends before its first answer, and the next run's, are shared at the sandbox's pace and
# never at WHOOP's real 100 a minute.
SANDBOX_PER_MINUTE = 3000
DEMO_DB = PROJECT / "data" / "demo.db"


def say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def _yesterday() -> str:
    # The sandbox clock starts a day back, so after "advance a day" it matches the real clock.
    return (datetime.now(timezone.utc) - timedelta(days=1)).isoformat(timespec="seconds")


def start_sandbox(env_file: Path) -> tuple[subprocess.Popen, str]:
    """`python -m sandbox` on a free port; returns the process and its URL."""
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--days",
            "1095",
            "--seed",
            "42",
            "--now",
            _yesterday(),
            "--whoop-rate-limit",
            str(SANDBOX_PER_MINUTE),
            "--env-file",
            str(env_file),
        ],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline().strip()
    if "listening on" not in first:
        proc.kill()
        raise SystemExit(f"the sandbox did not start: {first!r}")
    print(first, flush=True)
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain its output
    return proc, first.rsplit(" ", 1)[-1]


def demo_environment(env_file: Path) -> dict[str, str]:
    """The sandbox's app credentials and URLs, and a demo database of its own."""
    env = dict(os.environ)
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        if key and not key.endswith("_REFRESH_TOKEN"):  # the demo connects through OAuth instead
            env[key] = value
    env["DATABASE_URL"] = f"sqlite:///{DEMO_DB}"
    env["WHOOP_REQUESTS_PER_MINUTE"] = env["WITHINGS_REQUESTS_PER_MINUTE"] = str(SANDBOX_PER_MINUTE)
    env.pop("WHOOP_REFRESH_TOKEN", None)
    env.pop("WITHINGS_REFRESH_TOKEN", None)
    return env


def connect(provider: str, env: dict[str, str]) -> None:
    """Run the real OAuth connect flow; the sandbox approves at once, as a user in a browser would."""
    proc = subprocess.Popen(
        [PYTHON, "etl.py", "connect", provider, "--no-browser", "--timeout", "30"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        print(f"  {line.rstrip()}", flush=True)
        url = next((word for word in line.split() if word.startswith("http") and "state=" in word), None)
        if url:
            requests.get(url, timeout=30)  # the "browser": follows the redirect to the local callback
    if proc.wait(60) != 0:
        raise SystemExit(f"connecting {provider} to the sandbox failed")


def etl(env: dict[str, str], *args: str) -> None:
    code = subprocess.call([PYTHON, "etl.py", *args], cwd=PROJECT, env=env)
    if code != 0:
        raise SystemExit(f"etl.py {' '.join(args)} exited {code}")


def _setting(name: str, default: str) -> str:
    # The ETL reads the environment first, then .env: the demo looks where it will look.
    return os.environ.get(name) or dotenv_values(PROJECT / ".env").get(name) or default


def demo_ports() -> list[tuple[str, int, str]]:
    """(host, port, what) of every fixed port the demo needs; the sandbox takes a free one."""
    callback = urlsplit(CALLBACK_URI)
    return [
        (callback.hostname, callback.port, "the OAuth callback of `etl.py connect`"),
        (_setting("DASHBOARD_HOST", "127.0.0.1"), int(_setting("DASHBOARD_PORT", "8050")), "the dashboard"),
    ]


def check_ports() -> None:
    """SystemExit naming the first busy port, before anything is deleted or started."""
    for host, port, what in demo_ports():
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server binds
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise SystemExit(
                    f"demo: port {port} on {host} ({what}) is not free ({exc.strerror}): "
                    "stop the program using it and run the demo again; nothing was changed"
                ) from None


def main() -> int:
    """Sandbox -> connect -> ETL twice -> advance a day -> ETL -> dashboard."""
    check_ports()
    started = time.monotonic()
    DEMO_DB.parent.mkdir(mode=0o700, exist_ok=True)
    for leftover in DEMO_DB.parent.glob(DEMO_DB.name + "*"):
        leftover.unlink()  # the demo starts from an empty database every time
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "sandbox.env"
        say("Starting the sandbox WHOOP + Withings API (3 years of history for one person)")
        sandbox, url = start_sandbox(env_file)
        try:
            env = demo_environment(env_file)
            say("Connecting WHOOP and Withings (OAuth against the sandbox)")
            connect("whoop", env)
            connect("withings", env)
            say("First run: the full history")
            etl(env)
            say("Second run: nothing new, so zero inserted rows")
            etl(env)
            say("Advancing the sandbox by one day: a new day of data, yesterday's score, a new weigh-in")
            requests.post(f"{url}/_sandbox/advance", params={"days": 1}, timeout=30).raise_for_status()
            etl(env)
            say("Status")
            etl(env, "status")
            say(
                f"Dashboard (Ctrl-C to stop; {time.monotonic() - started:.0f} s so far). Reopen it later with: "
                f"DATABASE_URL=sqlite:///{DEMO_DB.relative_to(PROJECT)} .venv/bin/python etl.py dashboard"
            )
            subprocess.call([PYTHON, "etl.py", "dashboard"], cwd=PROJECT, env=env)
        except KeyboardInterrupt:
            print("\nstopped.")
        finally:
            sandbox.terminate()
            sandbox.wait(10)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--push"]:
        import demo_push  # scripts/ is this script's directory, first on sys.path

        sys.exit(demo_push.main())
    if sys.argv[1:]:
        sys.exit(f"usage: {sys.argv[0]} [--push]  (--push: the push demo, sandbox -> serve -> rows)")
    sys.exit(main())
