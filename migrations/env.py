"""Alembic environment: runs on a connection handed in by `migrate.py`, or on DATABASE_URL."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

import models

config = context.config
target_metadata = models.metadata


def _run(connection) -> None:
    # SQLite cannot ALTER constraints in place: batch mode rebuilds the table (Alembic docs,
    # "Running Batch Migrations for SQLite").
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    from configuration.settings import get_settings
    from storage.engine import make_engine

    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
