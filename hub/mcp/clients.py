"""The MCP client configurations `manage.py mcp_agent` prints: stdio (the client starts the server) and HTTP.

They are the JSON MCP clients read (`{"mcpServers": {NAME: ...}}`, as Claude Code and Claude Desktop
do), built from this process's environment so that a server the client starts serves the same hub.
Pure functions: no query, no file.
"""

from collections.abc import Mapping
from typing import Any

# `mcp_server --transport http`'s defaults, so the printed URL is where that command listens.
HTTP_HOST = "127.0.0.1"
HTTP_PORT = 8765
HTTP_PATH = "/mcp"
SERVER_KEY = "state-hub"

# What decides which hub a server process serves (its database, NATS, the repos it may read), copied
# into the stdio configuration when set here: an MCP client starts the server with almost no
# environment of its own. DJANGO_SECRET_KEY is never copied into printed text.
SERVER_ENVIRONMENT = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "NATS_URL",
    "NATS_STREAM",
    "STATEHUB_REPO_ROOTS",
)


def stdio_config(
    *, python: str, manage_py: str, username: str, environment: Mapping[str, str], debug: bool
) -> dict[str, Any]:
    """The client entry that starts `manage.py mcp_server --as USERNAME` with this hub's environment."""
    env = {name: environment[name] for name in SERVER_ENVIRONMENT if environment.get(name)}
    if debug:
        env["DJANGO_DEBUG"] = "true"
    return {
        "mcpServers": {
            SERVER_KEY: {
                "command": python,
                "args": [manage_py, "mcp_server", "--as", username],
                "env": env,
            }
        }
    }


def http_url(*, host: str = HTTP_HOST, port: int = HTTP_PORT) -> str:
    """Where `mcp_server --transport http --host HOST --port PORT` serves the tools."""
    return f"http://{host}:{port}{HTTP_PATH}"


def http_config(*, url: str, token: str) -> dict[str, Any]:
    """The client entry for a running streamable HTTP server, authenticated by the agent's token."""
    return {"mcpServers": {SERVER_KEY: {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}}}
