"""The hub API's write permission: the object's domain decides, through `hub.access` (the one rule)."""

from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from hub import access


class DomainWritePermission(BasePermission):
    """Reads: any signed-in user. Writes: `hub.access` for the object (and, on create, the view checks the new one)."""

    message = "You may not change this object."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        token = access.request_token(request)
        if token is not None and token.read_only:
            self.message = f"The token {token.name!r} is read-only."
            return False
        if token is not None and token.mcp_tools:
            self.message = f"The token {token.name!r} may only make the MCP writes {', '.join(token.mcp_tools)}."
            return False
        if not access.may_edit_any(request.user, token):
            self.message = "You may not change anything: you are an editor of no domain and hold no hub permission."
            return False
        return True  # which domain the write touches is known once the object (or the body) is read

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        reason = access.refusal(
            request.user, access.request_token(request), type(obj), access.domains_of(obj), action=access.CHANGE
        )
        if reason is not None:
            self.message = reason
            return False
        return True


def require_write(request: Request, model: Any, domains: Any, *, action: str = access.CHANGE) -> None:
    """403 unless the request's user (through its token) may make this write (`hub.access`)."""
    reason = access.refusal(request.user, access.request_token(request), model, domains, action=action)
    if reason is not None:
        raise PermissionDenied(reason)
