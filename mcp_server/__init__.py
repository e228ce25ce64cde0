"""A read-only MCP server over the local database (`whoop-etl mcp`)."""
