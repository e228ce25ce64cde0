"""The read side: one read model, and the status, health check, export, charts and daily view built on it."""
