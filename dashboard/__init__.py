"""The read-only local dashboard: `serve()` for the CLI and menu, `make_server()` for tests."""

from __future__ import annotations

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "DashboardServer", "make_server", "serve"]


def __getattr__(name: str):
    # Lazy: the command line registers the dashboard command without paying for the HTTP server at start-up.
    if name in __all__:
        from dashboard import server

        return getattr(server, name)
    raise AttributeError(f"module 'dashboard' has no attribute {name!r}")
