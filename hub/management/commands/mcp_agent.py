"""`manage.py mcp_agent NAME`: the user an MCP agent acts as, its token, and client configurations to paste."""

import json
import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from hub.mcp.clients import HTTP_HOST, HTTP_PORT, http_config, http_url, stdio_config
from statehub.errors import ServiceError


class Command(BaseCommand):
    """Create (or complete) an MCP agent's user and token and print the stdio and HTTP client configurations."""

    help = (
        "Create the user an MCP agent acts as, allowed the writes resolve_decision and add_progress_event make "
        "(in the --domain domains as their editor, or org-wide without --domain), and print its token (scoped to "
        "those writes and domains) and copy-paste client configurations (stdio and streamable HTTP). Running it "
        "again keeps the user's token, whose secret was shown once; --rotate-token replaces it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The agent's username (created when missing).")
        parser.add_argument(
            "--domain",
            action="append",
            default=[],
            metavar="SLUG",
            help="Make the agent an editor of this domain and scope its token to it (repeatable). Without it, "
            "the agent gets the org-wide permissions of the two writes.",
        )
        parser.add_argument(
            "--rotate-token",
            action="store_true",
            help="Replace the user's token with a new one; the old token stops working at once.",
        )
        parser.add_argument("--host", default=HTTP_HOST, help=f"Host in the HTTP configuration (default {HTTP_HOST}).")
        parser.add_argument(
            "--port", type=int, default=HTTP_PORT, help=f"Port in the HTTP configuration (default {HTTP_PORT})."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from hub.mcp.identity import mcp_agent_ensure

        if not 0 < options["port"] < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {options['port']}.")
        try:
            agent = mcp_agent_ensure(
                username=options["name"], rotate_token=options["rotate_token"], domains=tuple(options["domain"])
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        except DatabaseError as exc:
            raise CommandError(f"Cannot reach the database: {exc}") from exc

        user_line = "Created" if agent.user_created else "Updated"
        if not agent.token_created:
            what_happened = "kept from an earlier run, its secret shown then only; --rotate-token replaces it"
        elif options["rotate_token"]:
            what_happened = "new; the previous token no longer works"
        else:
            what_happened = "new"
        allowed = f"editor of {', '.join(agent.domains)}" if agent.domains else ", ".join(agent.permissions)
        self.stdout.write(f"{user_line} MCP agent user {agent.username!r} with {allowed}.")
        token = agent.token or "<the token printed when it was created>"
        self.stdout.write(f"Token: {token}  ({what_happened})")

        stdio = stdio_config(
            python=os.path.abspath(sys.executable),
            manage_py=str(settings.BASE_DIR / "manage.py"),
            username=agent.username,
            environment=os.environ,
            debug=settings.DEBUG,
        )
        self.stdout.write(
            "\nstdio: the client starts the server itself; the hub's database must be running when it does "
            "(e.g. leave `python3 -m statehub.dev serve` running)."
        )
        if not settings.DEBUG:
            self.stdout.write('Add "DJANGO_SECRET_KEY" to "env" unless the hub\'s .env file holds it.')
        self.stdout.write(json.dumps(stdio, indent=2))

        url = http_url(host=options["host"], port=options["port"])
        self.stdout.write(
            f"\nStreamable HTTP: start the server first "
            f"(manage.py mcp_server --transport http --host {options['host']} --port {options['port']})."
        )
        self.stdout.write(json.dumps(http_config(url=url, token=token), indent=2))
