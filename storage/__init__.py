"""The database: engine, migrations, batched writes, tokens, sync state, quarantine, accounts and the
one account policy, request budget counts, push events, publish bookkeeping, backups."""
