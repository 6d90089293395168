"""Create or reset the development superuser (used by `python3 -m statehub.dev serve`; debug only)."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from hub.models import ApiToken
from hub.tokens import token_create

DEV_TOKEN_NAME = "dev"  # noqa: S105 (a token's name, not a secret)
DEV_TOKEN_LIFETIME = dt.timedelta(days=7)


class Command(BaseCommand):
    help = "Create or reset a development superuser with the given password and an API token (DJANGO_DEBUG only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", required=True)

    def handle(self, *args: Any, username: str, password: str, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("ensure_dev_admin only runs with DJANGO_DEBUG=true; use createsuperuser in production.")
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": ""})
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save()
        # Tokens are stored hashed: each run replaces the dev token and prints the new secret.
        ApiToken.objects.filter(user=user, name=DEV_TOKEN_NAME).delete()
        issued = token_create(user=user, name=DEV_TOKEN_NAME, expires_in=DEV_TOKEN_LIFETIME)
        self.stdout.write(f"{'Created' if created else 'Updated'} development admin {username!r}.")
        self.stdout.write(f"token={issued.secret}")
