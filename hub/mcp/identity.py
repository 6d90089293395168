"""Who an MCP call acts as: the configured service user on stdio, the bearer token's user over HTTP."""

import contextvars
import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from mcp.server.auth.provider import AccessToken
from rest_framework.authtoken.models import Token

from hub.errors import HubError
from hub.mcp.db import run_db

logger = logging.getLogger(__name__)

# The username the current tool call acts as ("" when the server was started without one).
current_actor: contextvars.ContextVar[str] = contextvars.ContextVar("statehub_mcp_actor", default="")


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
