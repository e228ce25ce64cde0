"""The read-only local dashboard: `serve()` for the CLI and menu, `make_server()` for tests."""
from __future__ import annotations

from dashboard.server import DEFAULT_HOST, DEFAULT_PORT, DashboardServer, make_server, serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "DashboardServer", "make_server", "serve"]
