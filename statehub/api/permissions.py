"""API permissions: authenticated reads, writes gated by the model's Django permission and the token's scope.

A token whose scope is narrower than its user (read-only, some domains, some MCP tools) answers
`allows_org_writes() -> False` (duck-typed: this layer knows no app); such a token writes only
through the views that check its scope against the object's domain themselves (`hub.api.permissions`).
"""

from typing import TYPE_CHECKING, Any

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


def token_allows_org_writes(request: "Request") -> bool:
    """Whether the request's token (if any) may make writes that belong to no domain."""
    allows: Any = getattr(request.auth, "allows_org_writes", None)
    return allows is None or bool(allows())


class TokenAllowsOrgWrites(BasePermission):
    """Unsafe methods need a token whose scope does not narrow its user's power (or no token: a session)."""

    message = "This token's scope (read-only, domains or MCP tools) does not allow this write."

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        return request.method in SAFE_METHODS or token_allows_org_writes(request)


class ModelPermissionsWithRead(DjangoModelPermissions):
    """Any authenticated user may read; POST/PUT/PATCH/DELETE need the model's add/change/delete permission."""

    authenticated_users_only = True

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        # A method the view does not offer should answer 405 to a signed-in caller, not 403.
        if request.user and request.user.is_authenticated and not hasattr(view, (request.method or "").lower()):
            return True
        if not super().has_permission(request, view):
            return False
        if not TokenAllowsOrgWrites().has_permission(request, view):
            self.message = TokenAllowsOrgWrites.message
            return False
        return True


class ModelChangePermission(ModelPermissionsWithRead):
    """For state-changing actions reached by POST (resolve, activate): they need the model's change permission."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }
