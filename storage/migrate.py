"""Run the Alembic migrations programmatically (imported only when the schema is behind)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

PROJECT_DIR = Path(__file__).resolve().parents[1]  # the checkout (or site-packages when installed)
PRE_FIX_REVISION = "0001_pre_fix"

log = logging.getLogger(__name__)


def alembic_config() -> Config:
    """The project's Alembic config, independent of the working directory (checkout or installed)."""
    ini = PROJECT_DIR / "alembic.ini"
    # alembic.ini serves the `alembic` CLI in a checkout; an installed copy has migrations/ only.
    cfg = Config(str(ini)) if ini.is_file() else Config()
    cfg.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    cfg.set_main_option("path_separator", "os")
    return cfg


def known_revisions() -> set[str]:
    """Every schema revision this release's migrations know (a database at another was made by a newer one)."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _is_unversioned_pre_fix(conn) -> bool:
    # A database written by the pre-fix release has the data tables but no alembic_version.
    tables = set(inspect(conn).get_table_names())
    return "alembic_version" not in tables and {"cycles", "recovery"} <= tables


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade `engine`'s database to `revision` in one transaction per step."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if _is_unversioned_pre_fix(conn):
            log.info("pre-fix database without a version: marking it %s", PRE_FIX_REVISION)
            command.stamp(cfg, PRE_FIX_REVISION)
        command.upgrade(cfg, revision)
