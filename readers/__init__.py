"""The read side: one read model for `status`, `status --check` and export (the dashboard and MCP server read it too)."""
