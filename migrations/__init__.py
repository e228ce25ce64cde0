"""The Alembic migrations that build and upgrade the schema on SQLite and PostgreSQL alike."""
