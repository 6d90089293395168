"""`manage.py mcp_server`: serve the hub's MCP tools to agents over stdio or streamable HTTP."""

import contextlib
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections

from hub.mcp.clients import HTTP_HOST, HTTP_PORT
from statehub.errors import ServiceError


class Command(BaseCommand):
    """Serve the MCP tools (DESIGN §9): stdio for a local agent, streamable HTTP with DRF bearer tokens."""

    help = (
        "Serve the State Hub's MCP tools. stdio (default): writes act as --as USER or STATEHUB_MCP_USER. "
        "http: every request needs 'Authorization: Bearer <DRF token>' and acts as that token's user."
    )
    # System check output may go to stdout, which is the protocol stream on stdio; `manage.py check` runs them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
        parser.add_argument("--host", default=HTTP_HOST, help=f"HTTP only (default {HTTP_HOST}).")
        parser.add_argument("--port", type=int, default=HTTP_PORT, help=f"HTTP only (default {HTTP_PORT}).")
        parser.add_argument(
            "--as",
            dest="as_user",
            default=None,
            metavar="USER",
            help="stdio only: the user writes are attributed to (default: STATEHUB_MCP_USER).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from hub.mcp.server import serve_http, serve_stdio

        transport = options["transport"]
        if transport == "http":
            if options["as_user"]:
                raise CommandError("--as applies to stdio; over HTTP each request acts as its bearer token's user.")
            if not 0 < options["port"] < 65536:
                raise CommandError(f"--port must be between 1 and 65535, not {options['port']}.")
            self._check_database()
            serve_http(host=options["host"], port=options["port"])
            return
        actor = options["as_user"] or settings.STATEHUB_MCP_USER
        if actor:
            self._check_user(actor)
        else:
            self.stderr.write(
                "No user configured (--as USER or STATEHUB_MCP_USER): reads work, writes will be refused."
            )
        with contextlib.suppress(KeyboardInterrupt):
            serve_stdio(actor=actor)

    def _check_database(self) -> None:
        try:
            connections["default"].ensure_connection()
        except DatabaseError as exc:
            raise CommandError(f"Cannot reach the database: {exc}") from exc
        finally:
            connections.close_all()

    def _check_user(self, username: str) -> None:
        from hub.mcp.identity import active_user

        try:
            active_user(username)
        except ServiceError as exc:
            raise CommandError(f"Cannot act as {username!r}: {exc.message}") from exc
        except DatabaseError as exc:
            raise CommandError(f"Cannot reach the database: {exc}") from exc
        finally:
            # The tools use their own thread's connection; do not keep this one open and idle.
            connections.close_all()
