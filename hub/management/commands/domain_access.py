"""`manage.py domain_access grant|revoke MEMBER DOMAIN [--role editor|viewer]` and `domain_access list [DOMAIN]`."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub import history
from hub.models import DomainAccess
from hub.services.access import (
    domain_access_describe,
    domain_access_grant,
    domain_access_list,
    domain_access_revoke,
    domain_get,
)
from statehub.errors import ServiceError


class Command(BaseCommand):
    """Who may edit (or reads) which domain. Commands run as operators: no access check applies here."""

    help = (
        "Grant or revoke a role on a domain (editor: may write its repos, goals, workstreams, tasks, decisions "
        "and progress events through every door; viewer: recorded as a reader), or list the grants. MEMBER is a "
        "username or group:NAME. Each grant and revoke is in the change history with the door `command`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        grant = actions.add_parser("grant", help="Give MEMBER a role on DOMAIN (replacing another role).")
        grant.add_argument("member", help="A username, or group:NAME.")
        grant.add_argument("domain", help="The domain's slug.")
        grant.add_argument("--role", choices=DomainAccess.Role.values, default=DomainAccess.Role.EDITOR)
        revoke = actions.add_parser("revoke", help="Take MEMBER's role on DOMAIN away.")
        revoke.add_argument("member", help="A username, or group:NAME.")
        revoke.add_argument("domain", help="The domain's slug.")
        listing = actions.add_parser("list", help="The grants, of one domain or of all.")
        listing.add_argument("domain", nargs="?", help="Only this domain's.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with history.door(history.Door.COMMAND):
                self._handle(options)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc

    def _handle(self, options: dict[str, Any]) -> None:
        action = options["action"]
        if action == "list":
            domain = domain_get(options["domain"]) if options["domain"] else None
            for grant in domain_access_list(domain=domain):
                row = domain_access_describe(grant)
                self.stdout.write(f"{row['domain']}\t{row['member']}\t{row['role']}")
            return
        domain = domain_get(options["domain"])
        if action == "grant":
            grant, outcome = domain_access_grant(domain=domain, member=options["member"], role=options["role"])
            self.stdout.write(f"{outcome.capitalize()}: {grant.member_label} is {grant.role} of {domain.slug}.")
        else:
            domain_access_revoke(domain=domain, member=options["member"])
            self.stdout.write(f"Revoked: {options['member']} has no role on {domain.slug}.")
