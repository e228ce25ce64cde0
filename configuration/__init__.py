"""The base layer every package may import: settings, account names, secret-masking logs, the clock,
the exit codes and command errors, the command the user typed, the version."""
