"""API tokens for tests: a fresh named token of a user (hub.tokens), its secret as clients send it."""

from typing import Any

from hub.models import ApiToken
from hub.tokens import token_create


def token_for(user: Any, name: str = "test", **scope: Any) -> str:
    """The secret of a new token `name` of this user (replacing one of that name), with an optional scope."""
    ApiToken.objects.filter(user=user, name=name).delete()
    return token_create(user=user, name=name, **scope).secret
