"""The read side, which only reads: one read model, whose rows are whose, and the status, health check,
accounts list, quarantine review, export, charts and daily view built on it."""
