"""Construction of the hub's MCP server and its stdio and streamable HTTP transports."""

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import uvicorn
from django.db import InterfaceError, OperationalError
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from opentelemetry.trace import SpanKind

from hub import history
from hub.mcp.clients import HTTP_PATH
from hub.mcp.db import run_db
from hub.mcp.identity import ScopedTokenVerifier, current_actor, current_token
from hub.mcp.tools import READ_TOOLS, WRITE_TOOLS
from statehub import tracing
from statehub.errors import ServiceError

logger = logging.getLogger(__name__)

SERVER_NAME = "state-hub"
INSTRUCTIONS = (
    "The State Hub is the read model of the organisation's engineering state: repos, workstreams "
    "(workplans) and their tasks, decisions and the progress log. Start with get_next_steps. "
    "Every *_id parameter takes the object's human key (e.g. CUST-WP-0040, DEC-0012) or its UUID. "
    "The only writes are resolve_decision and add_progress_event."
)
READ_ANNOTATIONS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE_ANNOTATIONS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)


def _call_attributes(fn: Callable[..., Any]) -> dict[str, str]:
    return {"mcp.method.name": "tools/call", "gen_ai.tool.name": fn.__name__, "gen_ai.operation.name": "execute_tool"}


def _tool(fn: Callable[..., Any], default_actor: str) -> Callable[..., Awaitable[Any]]:
    """Wrap a synchronous tool: act as the caller, run it on a database worker thread, map domain errors."""

    @functools.wraps(fn)
    async def tool(**arguments: Any) -> Any:
        access_token = get_access_token()
        actor = access_token.client_id if access_token is not None else default_actor
        reset = current_actor.set(actor)
        reset_token = current_token.set(access_token.token if access_token is not None else None)
        try:
            # One trace per call (MCP semantic conventions' name); the worker thread inherits the span.
            with (
                tracing.span(f"tools/call {fn.__name__}", kind=SpanKind.SERVER, attributes=_call_attributes(fn)),
                history.door(history.Door.MCP, username=actor),
            ):
                return await run_db(fn, **arguments)
        except ServiceError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from exc
        except (OperationalError, InterfaceError) as exc:
            logger.exception("Database unavailable during MCP tool %s", fn.__name__)
            raise ToolError("database_unavailable: The hub's database cannot be reached; try again shortly.") from exc
        finally:
            current_token.reset(reset_token)
            current_actor.reset(reset)

    return tool


def build_server(*, default_actor: str = "", token_auth_issuer: str | None = None) -> MCPServer:
    """The MCP server with every hub tool; `token_auth_issuer` set means HTTP with the hub's bearer tokens."""
    auth: dict[str, Any] = {}
    if token_auth_issuer is not None:
        auth = {
            "token_verifier": ScopedTokenVerifier(),
            "auth": AuthSettings(issuer_url=token_auth_issuer, resource_server_url=None),  # type: ignore[arg-type]
        }
    server: MCPServer = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, version="1.0.0", **auth)
    for fn in READ_TOOLS:
        server.add_tool(
            _tool(fn, default_actor), description=inspect.cleandoc(fn.__doc__ or ""), annotations=READ_ANNOTATIONS
        )
    for fn in WRITE_TOOLS:
        server.add_tool(
            _tool(fn, default_actor), description=inspect.cleandoc(fn.__doc__ or ""), annotations=WRITE_ANNOTATIONS
        )
    return server


def serve_stdio(*, actor: str) -> None:
    """Serve over stdin/stdout until the client closes stdin; all logging goes to stderr."""
    server = build_server(default_actor=actor)
    anyio.run(server.run_stdio_async)


def serve_http(*, host: str, port: int, path: str = HTTP_PATH) -> None:
    """Serve streamable HTTP at `http://host:port/mcp`; every request needs `Authorization: Bearer <hub token>`."""
    server = build_server(token_auth_issuer=f"http://{host}:{port}")
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    # log_config=None keeps Django's logging (one line per record, stderr) for uvicorn's loggers too.
    config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="on")
    logger.info("MCP server listening on http://%s:%s%s", host, port, path)
    uvicorn.Server(config).run()
