"""The database: engine, migrations, batched writes, tokens, sync state, quarantine, accounts, request budget, backups."""
