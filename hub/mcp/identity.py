"""Who an MCP call acts as: the configured service user on stdio, the bearer token's user (and scope) over HTTP.

A write tool asks `require_write_access` with the object it writes; the answer is `hub.access`'s,
for the user and, over HTTP, the token (its domains and MCP tools): the same rule as every door.
"""

import contextvars
import logging
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Permission
from django.core.exceptions import ValidationError
from django.db import models, transaction
from mcp.server.auth.provider import AccessToken

from hub import access
from hub.errors import HubError, ValidationFailed
from hub.mcp.db import run_db
from hub.models import ApiToken, Domain, DomainAccess
from hub.tokens import TokenProblem, token_create, token_verify

logger = logging.getLogger(__name__)

# The username the current tool call acts as ("" when the server was started without one).
current_actor: contextvars.ContextVar[str] = contextvars.ContextVar("statehub_mcp_actor", default="")
# The bearer token of the current tool call over HTTP (None on stdio: the user's roles alone apply).
current_token: contextvars.ContextVar[str | None] = contextvars.ContextVar("statehub_mcp_token", default=None)

# The name of the token `mcp_agent` issues.
AGENT_TOKEN_NAME = "mcp"  # noqa: S105 (a token's name, not a secret)

# The model permission each sanctioned write needs (DESIGN §9); `manage.py mcp_agent` grants exactly these.
WRITE_PERMISSIONS = {
    "resolve_decision": "hub.change_decision",
    "add_progress_event": "hub.add_progressevent",
}


class PermissionDenied(HubError):
    """A write the calling user is not allowed to make."""

    code = "permission_denied"


def active_user(username: str) -> AbstractUser:
    """The active user with this username; HubError naming the problem otherwise."""
    user_model = get_user_model()
    user: AbstractUser | None = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        raise HubError(f"There is no user {username!r}.")
    if not user.is_active:
        raise HubError(f"User {username!r} is inactive.")
    return user


def require_write_access(tool: str, model: type[models.Model], domains: Any) -> str:
    """Return the acting username once `hub.access` allows this tool's write in these domains."""
    username = current_actor.get()
    if not username:
        raise PermissionDenied(
            "Writes need an identity: start the server with --as USER or set STATEHUB_MCP_USER "
            "(over HTTP, the bearer token's user)."
        )
    try:
        user = active_user(username)
    except HubError as exc:
        raise PermissionDenied(exc.message) from exc
    token: ApiToken | None = None
    secret = current_token.get()
    if secret is not None:
        try:
            token = token_verify(secret)
        except TokenProblem as exc:
            raise PermissionDenied(str(exc)) from exc
    action = access.MCP_WRITE_TOOLS[tool][0]
    reason = access.refusal(user, token, model, domains, action=action, mcp_tool=tool)
    if reason is not None:
        raise PermissionDenied(f"User {username!r} may not {tool.replace('_', ' ')} here: {reason}")
    return username


@dataclass(frozen=True)
class AgentCredentials:
    """The user an MCP agent acts as and its API token, and what ensuring them changed."""

    username: str
    token: str  # the secret, or "" when the existing token was kept (its secret is shown once, at creation)
    user_created: bool
    token_created: bool  # False: the user's existing token was kept
    permissions: tuple[str, ...]
    domains: tuple[str, ...] = ()


@transaction.atomic
def mcp_agent_ensure(*, username: str, rotate_token: bool = False, domains: tuple[str, ...] = ()) -> AgentCredentials:
    """Create or complete the user an MCP agent acts as: active, allowed the sanctioned writes, with a token.

    With `domains`, the user becomes an editor of those domains and its token is scoped to them and
    to the MCP write tools; without, it gets the org-wide permissions of those writes (every domain)
    and a token scoped to the MCP write tools. Idempotent: an existing user keeps its other
    permissions and its token (named `mcp`), unless `rotate_token` replaces the token (the old one
    stops working at once). A new user has no usable password: it signs in with its token only. An
    inactive user is refused rather than silently re-enabled.
    """
    user_model = get_user_model()
    username_field = cast("models.Field[Any, Any]", user_model._meta.get_field(user_model.USERNAME_FIELD))
    try:
        username = username_field.clean(username, None)
    except ValidationError as exc:
        raise ValidationFailed(f"{username!r} is not a valid username: {' '.join(exc.messages)}") from exc
    lookup: dict[str, Any] = {user_model.USERNAME_FIELD: username}
    user, user_created = user_model._default_manager.get_or_create(**lookup)
    if user_created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif not user.is_active:
        raise ValidationFailed(f"User {username!r} is inactive; activate it (admin) before handing it to an agent.")
    scope = sorted(set(domains))
    found = {domain.slug: domain for domain in Domain.objects.filter(slug__in=scope)}
    missing = [slug for slug in scope if slug not in found]
    if missing:
        raise ValidationFailed(f"No such domain: {', '.join(missing)}.")
    permissions: list[str] = []
    if scope:
        for slug in scope:
            DomainAccess.objects.update_or_create(
                domain=found[slug], user=user, defaults={"role": DomainAccess.Role.EDITOR}
            )
    else:
        permissions = sorted(set(WRITE_PERMISSIONS.values()))
        for name in permissions:
            app_label, codename = name.split(".", 1)
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    if rotate_token:
        ApiToken.objects.filter(user=user, name=AGENT_TOKEN_NAME).delete()
    secret = ""
    token_created = not ApiToken.objects.filter(user=user, name=AGENT_TOKEN_NAME).exists()
    if token_created:
        secret = token_create(
            user=user, name=AGENT_TOKEN_NAME, domains=scope, mcp_tools=sorted(access.MCP_WRITE_TOOLS)
        ).secret
    return AgentCredentials(
        username=username,
        token=secret,
        user_created=user_created,
        token_created=token_created,
        permissions=tuple(permissions),
        domains=tuple(scope),
    )


def token_username(secret: str) -> str | None:
    try:
        return str(token_verify(secret).user.get_username())
    except TokenProblem:
        return None


class ScopedTokenVerifier:
    """Accepts a hub token (`Authorization: Bearer <secret>`) of an active user; the username becomes the actor.

    Its scope is applied by each write (`require_write_access`), from the same secret.
    """

    async def verify_token(self, token: str) -> AccessToken | None:
        username = await run_db(token_username, token)
        if username is None:
            logger.info("Rejected an MCP request with an unknown, expired or inactive token.")
            return None
        return AccessToken(token=token, client_id=username, subject=username, scopes=[])
