"""The hub's MCP server: read tools and the two sanctioned writes, for AI agents (DESIGN §9)."""
