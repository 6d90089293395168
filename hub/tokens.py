"""API and MCP tokens: knox's hashed, expiring tokens, several per user, each named and optionally scoped.

`ApiToken` (hub.models) is knox's token model (`KNOX_TOKEN_MODEL`) with a name and a scope. The
secret is returned once by `token_create` and never stored: the table holds its SHA-512 digest and
its first 15 characters. Clients send it as today: `Authorization: Token <secret>` (the API) or
`Authorization: Bearer <secret>` (MCP over HTTP). An expired token answers 401; revoking deletes it.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from hmac import compare_digest
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

from hub.access import MCP_WRITE_TOOLS
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.models import ApiToken, Domain

# `last_used_at` is written at most this often per token: a request reads its token, it does not write it.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


class TokenProblem(Exception):
    """A token that authenticates nobody: unknown, expired, or its user inactive."""


def token_verify(secret: str) -> ApiToken:
    """The token this secret is (its user loaded), marked used; TokenProblem when it authenticates nobody."""
    if not secret or len(secret) > 200:
        raise TokenProblem("Invalid token.")
    digest = hash_token(secret)
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_key=secret[: CONSTANTS.TOKEN_KEY_LENGTH])
        .filter(digest=digest)
        .first()
    )
    if token is None or not compare_digest(token.digest, digest):
        raise TokenProblem("Invalid token.")
    now = timezone.now()
    if token.expiry is not None and token.expiry <= now:
        raise TokenProblem("Token expired.")
    if not token.user.is_active:
        raise TokenProblem("User inactive or deleted.")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


class ScopedTokenAuthentication(TokenAuthentication):
    """knox's `Authorization: Token <secret>`, in one query (the token with its user), 401 once expired."""

    def authenticate_credentials(self, token: bytes) -> tuple[Any, ApiToken]:
        try:
            found = token_verify(token.decode("utf-8", errors="replace"))
        except TokenProblem as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc
        return found.user, found


class ScopedTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema's name for it: `tokenAuth`, `Authorization: Token <secret>` (as with DRF's tokens)."""

    target_class = ScopedTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        definition: dict[str, Any] = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )
        return definition


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: the row, and its secret (shown this once)."""

    token: ApiToken
    secret: str


def _user(username: str) -> Any:
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        raise NotFound(f"There is no user {username!r}.")
    return user


def _domains(slugs: Iterable[str]) -> list[Domain]:
    slugs = sorted(set(slugs))
    domains = list(Domain.objects.filter(slug__in=slugs))
    missing = sorted(set(slugs) - {domain.slug for domain in domains})
    if missing:
        raise ValidationFailed(f"No such domain: {', '.join(missing)}.", field="domains")
    return domains


def _mcp_tools(names: Iterable[str]) -> list[str]:
    names = sorted(set(names))
    unknown = [name for name in names if name not in MCP_WRITE_TOOLS]
    if unknown:
        raise ValidationFailed(
            f"Not an MCP write tool: {', '.join(unknown)} (one of {', '.join(sorted(MCP_WRITE_TOOLS))}).",
            field="mcp_tools",
        )
    return names


def token_create(
    *,
    user: Any,
    name: str,
    expires_in: dt.timedelta | None = None,
    read_only: bool = False,
    domains: Iterable[str] = (),
    mcp_tools: Iterable[str] = (),
) -> IssuedToken:
    """Issue a named token for this user; its secret is in the answer and nowhere else."""
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValidationFailed(f"A token needs a name of 1 to {NAME_MAX_LENGTH} characters.", field="name")
    if expires_in is not None and expires_in <= dt.timedelta(0):
        raise ValidationFailed("A token's lifetime must be positive.", field="expires_in")
    scope_domains = _domains(domains)
    tools = _mcp_tools(mcp_tools)
    try:
        with transaction.atomic():
            token, secret = ApiToken.objects.create(
                user=user,
                expiry=expires_in,
                name=name,
                read_only=read_only,
                mcp_tools=tools,
                domain_scoped=bool(scope_domains),
            )
            token.domains.set(scope_domains)
    except IntegrityError as exc:
        raise Conflict(f"{user.get_username()!r} already has a token named {name!r}; revoke it first.") from exc
    return IssuedToken(token=token, secret=secret)


def token_revoke(*, user: Any, name: str) -> None:
    """Delete the user's token of this name: it stops working at once."""
    deleted, _ = ApiToken.objects.filter(user=user, name=name).delete()
    if not deleted:
        raise NotFound(f"{user.get_username()!r} has no token named {name!r}.")


def token_list(*, user: Any | None = None) -> list[ApiToken]:
    """Tokens (one user's, or everyone's), with their scope domains loaded; never a secret."""
    queryset = ApiToken.objects.select_related("user").prefetch_related("domains").order_by("user__username", "name")
    if user is not None:
        queryset = queryset.filter(user=user)
    return list(queryset)


def token_describe(token: ApiToken) -> dict[str, Any]:
    """A token as every door shows it (no secret, no digest)."""
    return {
        "name": token.name,
        "user": token.user.get_username(),
        "created": token.created,
        "expiry": token.expiry,
        "expired": token.expiry is not None and token.expiry <= timezone.now(),
        "last_used_at": token.last_used_at,
        "read_only": token.read_only,
        "domains": sorted(domain.slug for domain in token.domains.all()),
        "mcp_tools": list(token.mcp_tools),
    }


def user_by_name(username: str) -> Any:
    return _user(username)
