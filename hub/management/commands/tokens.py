"""`manage.py tokens create|revoke|list`: a user's named API and MCP tokens (hashed; the secret is shown once)."""

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.access import MCP_WRITE_TOOLS
from hub.tokens import token_create, token_describe, token_list, token_revoke, user_by_name
from statehub.errors import ServiceError


class Command(BaseCommand):
    """Issue, revoke and list tokens. Commands run as operators: any user's tokens."""

    help = (
        "Create a named token for a user (printed once: only its hash is stored), optionally expiring, read-only, "
        "limited to some domains and to some MCP write tools; revoke one by name; list them (never a secret)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Issue a token and print its secret (once).")
        create.add_argument("username")
        create.add_argument("name", help="The token's name, unique per user (e.g. ci, agent-custodian).")
        create.add_argument("--expires-in-days", type=float, help="Expire after this many days (default: never).")
        create.add_argument("--read-only", action="store_true", help="Refuse every write.")
        create.add_argument(
            "--domain", action="append", default=[], metavar="SLUG", help="Write only in this domain (repeatable)."
        )
        create.add_argument(
            "--mcp-tool",
            action="append",
            default=[],
            choices=sorted(MCP_WRITE_TOOLS),
            help="Write only through this MCP tool, nothing else (repeatable).",
        )
        revoke = actions.add_parser("revoke", help="Delete a token: it stops working at once.")
        revoke.add_argument("username")
        revoke.add_argument("name")
        listing = actions.add_parser("list", help="Tokens, of one user or of all (no secrets).")
        listing.add_argument("username", nargs="?")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._handle(options)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc

    def _handle(self, options: dict[str, Any]) -> None:
        action = options["action"]
        if action == "list":
            user = user_by_name(options["username"]) if options["username"] else None
            for token in token_list(user=user):
                row = token_describe(token)
                scope = ", ".join(
                    [
                        *(["read-only"] if row["read_only"] else []),
                        *(f"domain {slug}" for slug in row["domains"]),
                        *(f"mcp {tool}" for tool in row["mcp_tools"]),
                    ]
                )
                expiry = row["expiry"].isoformat() if row["expiry"] else "never"
                used = row["last_used_at"].isoformat() if row["last_used_at"] else "never"
                expired = " (expired)" if row["expired"] else ""
                self.stdout.write(
                    f"{row['user']}\t{row['name']}\texpires {expiry}{expired}\tlast used {used}\t{scope or 'unscoped'}"
                )
            return
        user = user_by_name(options["username"])
        if action == "revoke":
            token_revoke(user=user, name=options["name"])
            self.stdout.write(f"Revoked {options['username']}/{options['name']}: it no longer works.")
            return
        days = options["expires_in_days"]
        if days is not None and days <= 0:
            raise CommandError("--expires-in-days must be positive.")
        issued = token_create(
            user=user,
            name=options["name"],
            expires_in=dt.timedelta(days=days) if days is not None else None,
            read_only=options["read_only"],
            domains=options["domain"],
            mcp_tools=options["mcp_tool"],
        )
        self.stdout.write(f"Created {options['username']}/{issued.token.name}. The token (shown this once):")
        self.stdout.write(issued.secret)
