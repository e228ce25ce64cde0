"""A sync run works on SQLAlchemy Core alone: the ORM and its mapper set-up stay out of its start-up.

The run path (the CLI, planning, the runner, the loader, the write path, sync state, quarantine,
tokens, the declarations) works on `models`' Core tables and connections; the ORM classes load
only where a reader asks for one. These checks run in new processes, as a user's run does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
RUN_PATH = (
    "etl",
    "sync.plan",
    "sync.runner",
    "sync.resources",
    "db_loader",
    "storage.write",
    "storage.sync_state",
    "storage.quarantine",
    "storage.tokens",
    "storage.engine",
    "models",
)


def _python(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1"}
    return subprocess.run([sys.executable, *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)


def test_importing_the_run_path_loads_no_orm():
    code = (
        "import importlib, sys\n"
        f"for name in {RUN_PATH!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'sqlalchemy.orm' or m.startswith('sqlalchemy.orm.')))\n"
    )
    done = _python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_whole_run_loads_no_orm_and_the_orm_classes_still_map(etl_env, db_url):
    # -X importtime lists every module the process imported, those a run imports late included
    # (the provider clients, the dialect): the ORM is not among them.
    done = _python("-X", "importtime", "etl.py", "--quiet", "--since", "7d")
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert {"sync.runner", "db_loader", "storage.write", "requests"} <= imported  # the listing is complete
    assert not {m for m in imported if m.split(".")[:2] == ["sqlalchemy", "orm"]}
    # What the run wrote, the ORM classes read: they are mapped on the same tables.
    code = (
        "import os, models\n"
        "from sqlalchemy import func, select\n"
        "from sqlalchemy.orm import Session\n"
        "from storage.engine import make_engine\n"
        "engine = make_engine(os.environ['DATABASE_URL'])\n"
        "with Session(engine) as session:\n"
        "    assert models.Cycle.__table__ is models.cycles\n"
        "    print(session.scalar(select(func.count()).select_from(models.SyncState)))\n"
        "engine.dispose()\n"
    )
    read = _python("-c", code)
    assert read.returncode == 0, read.stderr
    assert int(read.stdout) > 0
