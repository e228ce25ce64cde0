"""How often a SIGKILL just after WHOOP answers a refresh leaves the account to re-connect.
Results go to docs/RELIABILITY.md ("The rotated-token window"), by hand.

    python bench/token_kill_window.py --kills 40                      # this checkout
    python bench/token_kill_window.py --kills 40 --checkout /tmp/old  # another release's code

Each try: a fresh database holding an expired access token and a live refresh token of one
sandbox person; `etl.py --source whoop --since 1d` starts in a child process (the code of
`--checkout`); the sandbox (in this process) notes when its token endpoint answers the refresh;
the child is SIGKILLed a uniformly random 0-50 ms later. The account is lost when the refresh
token stored in the database is no longer one the sandbox accepts (the provider killed it as it
answered): the next run would exit 3, asking to re-connect.

PostgreSQL: BENCH_POSTGRES_URL (default postgresql+psycopg2://postgres@127.0.0.1:5432/
t_token_kill_bench; created if missing, emptied for every try).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from sqlalchemy import create_engine, select, text  # noqa: E402 - imported once the checkout is on sys.path
from sqlalchemy.engine import make_url  # noqa: E402

import models  # noqa: E402
from api_clients.oauth import Token  # noqa: E402
from sandbox import SandboxServer  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.tokens import DbTokenStore  # noqa: E402

KILL_AFTER_MS = (0.0, 50.0)
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/t_token_kill_bench")


def _answered(sb) -> threading.Event:
    """An event set each time the sandbox has written its WHOOP token endpoint's answer to a
    refresh (the provider killed the old refresh token then)."""
    from sandbox import server

    auth, event, refreshed = sb.app.whoop_auth, threading.Event(), threading.local()
    token, handle = auth.token, server._Handler._handle

    def answering(form, basic):
        answer = token(form, basic)
        refreshed.now = form.get("grant_type") == "refresh_token" and answer[0] == 200
        return answer

    def written(self):
        refreshed.now = False
        handle(self)
        if refreshed.now:  # the handler's own thread: its answer is out of the socket now
            self.wfile.flush()
            event.set()

    auth.token = answering
    server._Handler._handle = written
    return event


def _fresh_database(kind: str, folder: Path, n: int) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / f'try-{n}.db'}"
    admin = create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        name = make_url(PG_URL).database
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return PG_URL


def _one_try(kind: str, checkout: Path, folder: Path, n: int) -> tuple[bool, float]:
    """(account lost, ms from the answer to the kill) of one try."""
    with SandboxServer(days=30, seed=n) as sb:
        url = _fresh_database(kind, folder, n)
        engine = make_engine(url)
        # The schema the child's code expects: its own migrations, run by its own code.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from storage.engine import ensure_schema, make_engine; "
                "ensure_schema(make_engine(sys.argv[1]))",
                url,
            ],
            cwd=checkout,
            check=True,
            env={**os.environ, "PYTHONPATH": str(checkout)},
        )
        expired = datetime.now(timezone.utc) - timedelta(hours=1)
        seed = sb.mint_refresh_token("whoop")
        DbTokenStore(engine, "default").save(
            "whoop", Token(access_token="", refresh_token=seed, expires_at=expired, scope=None)
        )
        answered = _answered(sb)
        env = {**os.environ, **sb.environment(mint_tokens=False), "DATABASE_URL": url}
        env.update({"WHOOP_PLATFORM_NO_DOTENV": "1", "WHOOP_REFRESH_TOKEN": ""})
        child = subprocess.Popen(
            [sys.executable, str(checkout / "etl.py"), "--source", "whoop", "--since", "1d", "--quiet"],
            cwd=checkout,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not answered.wait(60):
            child.kill()
            raise RuntimeError("the child never refreshed its token")
        at = time.monotonic()
        delay = random.uniform(*KILL_AFTER_MS) / 1000
        time.sleep(max(0.0, at + delay - time.monotonic()))
        child.send_signal(signal.SIGKILL)
        killed_after = (time.monotonic() - at) * 1000
        child.wait()
        with engine.connect() as conn:
            stored = conn.execute(
                select(models.oauth_token.c.refresh_token).where(models.oauth_token.c.provider == "whoop")
            ).scalar()
        engine.dispose()
        return stored not in sb.app.whoop_auth._refresh, killed_after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=40, help="Tries per database.")
    parser.add_argument("--checkout", type=Path, default=PROJECT, help="The code the child runs.")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    random.seed(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.databases:
            lost_at = []
            for n in range(args.kills):
                lost, after = _one_try(kind, args.checkout.resolve(), Path(folder), n)
                if lost:
                    lost_at.append(after)
            widest = f", the latest {max(lost_at):.1f} ms after the answer" if lost_at else ""
            print(f"{kind}: {len(lost_at)} of {args.kills} kills at 0-50 ms after the answer lost the account{widest}")


if __name__ == "__main__":
    main()
