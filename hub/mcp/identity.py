"""Who an MCP call acts as: the configured service user on stdio, the bearer token's user over HTTP."""

import contextvars
import logging
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Permission
from django.core.exceptions import ValidationError
from django.db import models, transaction
from mcp.server.auth.provider import AccessToken
from rest_framework.authtoken.models import Token

from hub.errors import HubError, ValidationFailed
from hub.mcp.db import run_db

logger = logging.getLogger(__name__)

# The username the current tool call acts as ("" when the server was started without one).
current_actor: contextvars.ContextVar[str] = contextvars.ContextVar("statehub_mcp_actor", default="")

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


def require_write_permission(permission: str) -> str:
    """Return the acting username once it is known to hold `permission` (e.g. `hub.change_decision`)."""
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
    if not user.has_perm(permission):
        raise PermissionDenied(f"User {username!r} lacks the permission {permission!r} this write needs.")
    return username


@dataclass(frozen=True)
class AgentCredentials:
    """The user an MCP agent acts as and its API token, and what ensuring them changed."""

    username: str
    token: str
    user_created: bool
    token_created: bool  # False: the user's existing token was kept
    permissions: tuple[str, ...]


@transaction.atomic
def mcp_agent_ensure(*, username: str, rotate_token: bool = False) -> AgentCredentials:
    """Create or complete the user an MCP agent acts as: active, with the sanctioned writes' permissions and a token.

    Idempotent: an existing user keeps its other permissions and its token, unless `rotate_token`
    replaces the token (the old one stops working at once). A new user has no usable password: it
    signs in with its token only. An inactive user is refused rather than silently re-enabled.
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
    permissions = sorted(set(WRITE_PERMISSIONS.values()))
    for name in permissions:
        app_label, codename = name.split(".", 1)
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    if rotate_token:
        Token.objects.filter(user=user).delete()
    token, token_created = Token.objects.get_or_create(user=user)
    return AgentCredentials(
        username=username,
        token=token.key,
        user_created=user_created,
        token_created=token_created,
        permissions=tuple(permissions),
    )


def _token_user(key: str) -> str | None:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user.get_username()


class DrfTokenVerifier:
    """Accepts a DRF token (`Authorization: Bearer <key>`) of an active user; the username becomes the actor."""

    async def verify_token(self, token: str) -> AccessToken | None:
        username = await run_db(_token_user, token)
        if username is None:
            logger.info("Rejected an MCP request with an unknown or inactive token.")
            return None
        return AccessToken(token=token, client_id=username, subject=username, scopes=[])
