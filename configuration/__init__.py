"""The base layer every package may import: settings, account names, secret-masking logs, the clock, the version."""
