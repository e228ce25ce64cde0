"""The push demo (`./scripts/demo.sh --push`): the sandbox tells a local `serve` what changed, and
`serve` stores the event, fetches what it names and writes the row; no polling anywhere.

Sandbox -> a first run (the history) -> `serve` -> the sandbox's push pointed at it -> a new
weigh-in and a rescored night through the sandbox's admin API -> the rows, read back from the
database -> everything stopped. `walkthrough()` is the whole of it, for the test as for the demo.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import requests

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DEMO_DB = PROJECT / "data" / "demo.db"
SANDBOX_PER_MINUTE = 3000  # as scripts/demo.py: the demo runs at the sandbox's announced pace
DEADLINE_SECONDS = 60.0  # the rows come in about a second; this only stops a broken setup from hanging


@dataclass
class Process:
    """A child process whose output lines are echoed (prefixed) and kept."""

    proc: subprocess.Popen
    prefix: str
    echo: Callable[[str], None]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self._ended = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in iter(self.proc.stdout.readline, ""):
            self.echo(f"  {self.prefix}{line.rstrip()}")
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def first_line_with(self, text: str, timeout: float) -> str:
        """The first output line holding `text`; SystemExit when the process ends first or `timeout` passes."""
        with self._changed:
            self._changed.wait_for(lambda: self._ended or any(text in line for line in self.lines), timeout)
            found = next((line for line in self.lines if text in line), None)
        if found is None:
            raise SystemExit(f"demo: {self.prefix.strip(': ')} never said {text!r}")
        return found.strip()

    def stop(self) -> int | None:
        """SIGTERM, then the exit code (None: it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None


def _start(args: list[str], env: dict | None, prefix: str, echo) -> Process:
    proc = subprocess.Popen(
        [PYTHON, *args], cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return Process(proc, prefix, echo)


def start_sandbox(env_file: Path, days: int, echo) -> tuple[Process, str]:
    """`python -m sandbox` on a free port, its clock a day behind; the process and its URL."""
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat(timespec="seconds")
    args = ["-m", "sandbox", "--port", "0", "--days", str(days), "--seed", "42", "--now", yesterday]
    args += ["--whoop-rate-limit", str(SANDBOX_PER_MINUTE), "--env-file", str(env_file)]
    sandbox = _start(args, None, "sandbox: ", echo)
    return sandbox, sandbox.first_line_with("listening on", 60).rsplit(" ", 1)[-1]


def environment(env_file: Path, database: Path) -> dict[str, str]:
    """The sandbox's apps and tokens, the demo database, and a fresh Withings path secret."""
    env = dict(os.environ, WHOOP_PLATFORM_NO_DOTENV="1")
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        if key:
            env[key] = value
    env["DATABASE_URL"] = f"sqlite:///{database}"
    env["WHOOP_REQUESTS_PER_MINUTE"] = env["WITHINGS_REQUESTS_PER_MINUTE"] = str(SANDBOX_PER_MINUTE)
    secret = subprocess.run(
        [PYTHON, "etl.py", "webhooks", "secret"], cwd=PROJECT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    key, _, value = secret.partition("=")
    env[key] = value
    return env


def _etl(env: dict, *args: str) -> None:
    code = subprocess.call([PYTHON, "etl.py", *args], cwd=PROJECT, env=env)
    if code != 0:
        raise SystemExit(f"demo: etl.py {' '.join(args)} exited {code}")


def _admin(url: str, action: str, **params) -> dict:
    response = requests.post(f"{url}/_sandbox/{action}", params=params, timeout=30)
    response.raise_for_status()
    return response.json()


def _query(database: Path, sql: str, *args):
    with sqlite3.connect(database) as conn:
        return conn.execute(sql, args).fetchone()


def _all(database: Path, sql: str) -> list:
    with sqlite3.connect(database) as conn:
        return conn.execute(sql).fetchall()


def _wait_for_rows(database: Path, grpid: int, cycle_id: int, score_before, deadline: float):
    """(weight, recovery score) once the weigh-in's row is there and the rescored recovery changed,
    and every event is processed; SystemExit at the deadline."""
    while True:
        weight = _query(database, "SELECT weight_kg FROM withings_weight WHERE grpid = ?", grpid)
        score = _query(database, "SELECT recovery_score FROM recovery WHERE whoop_cycle_id = ?", cycle_id)
        pending = _query(database, "SELECT count(*) FROM inbound_event WHERE processed_at IS NULL")[0]
        if weight and score and score[0] != score_before and pending == 0:
            return weight[0], score[0]
        if time.monotonic() > deadline:
            raise SystemExit(
                f"demo: the rows did not arrive in {DEADLINE_SECONDS:.0f} s (weight {weight}, recovery {score}, "
                f"{pending} events unprocessed); serve's lines above say why"
            )
        time.sleep(0.1)  # a demo's poll of its own database: the rows come from another process


def walkthrough(database: Path, workdir: Path, *, days: int = 60, say=print, echo=print) -> dict:
    """The push demo over the SQLite file `database` (deleted first); what arrived, and how fast."""
    for leftover in database.parent.glob(database.name + "*"):
        leftover.unlink()
    say("Starting the sandbox WHOOP + Withings API")
    sandbox, url = start_sandbox(workdir / "sandbox.env", days, echo)
    serve = None
    try:
        env = environment(workdir / "sandbox.env", database)
        say("First run: the history (push brings only what changes after it)")
        _etl(env)
        say("Starting `etl.py serve` on a free port, processing the events it receives")
        serve = _start(["etl.py", "serve", "--port", "0"], env, "serve: ", echo)
        base = re.search(
            r"receiving webhooks on (http://[^ ]+:\d+)", serve.first_line_with("receiving webhooks on", 60)
        )[1]
        secret = env["WITHINGS_WEBHOOK_SECRET"]
        _admin(url, "push", whoop_url=f"{base}/webhooks/whoop", withings_url=f"{base}/webhooks/withings/{secret}")
        say(f"The sandbox now pushes to {base}/webhooks/whoop and {base}/webhooks/withings/<secret>")
        say("A new weigh-in (Withings) and a rescored night (WHOOP), through the sandbox's admin API")
        scores = dict(_all(database, "SELECT whoop_cycle_id, recovery_score FROM recovery"))
        started = time.monotonic()
        grpid = _admin(url, "weigh-in", kg=72.4)["grpid"]
        cycle_id = _admin(url, "rescore")["cycle_id"]
        before = scores.get(cycle_id)
        weight, score = _wait_for_rows(database, grpid, cycle_id, before, started + DEADLINE_SECONDS)
        seconds = time.monotonic() - started
        events = _query(database, "SELECT count(*) FROM inbound_event")[0]
        say(
            f"Arrived in {seconds:.1f} s, without a poll: weigh-in {grpid} ({weight} kg) and cycle {cycle_id}'s "
            f"recovery {before} -> {score}, from {events} pushed events"
        )
        arrived = {"grpid": grpid, "weight_kg": weight, "cycle_id": cycle_id, "recovery_score": score}
        arrived.update(recovery_before=before, events=events)
    finally:
        code = serve.stop() if serve else 0
        sandbox.stop()
        say("Stopped serve and the sandbox")
    if code != 0:
        raise SystemExit(f"demo: serve exited {code}")
    return arrived


def main() -> int:
    import tempfile

    DEMO_DB.parent.mkdir(mode=0o700, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        walkthrough(DEMO_DB, Path(tmp), say=lambda text: print(f"\n=== {text}", flush=True))
    print(
        f"\nThe rows are in {DEMO_DB.relative_to(PROJECT)}; see them with: "
        f"DATABASE_URL=sqlite:///{DEMO_DB.relative_to(PROJECT)} .venv/bin/python etl.py dashboard"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
