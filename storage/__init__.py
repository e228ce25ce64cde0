"""The database: engine, migrations, batched writes, tokens, sync state, quarantine, accounts, the request budget."""
