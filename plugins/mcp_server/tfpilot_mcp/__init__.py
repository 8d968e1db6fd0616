"""tfpilot MCP server plugin."""
