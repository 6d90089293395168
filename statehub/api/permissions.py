"""API permissions: authenticated reads, writes gated by the model's Django permission."""

from typing import TYPE_CHECKING

from rest_framework.permissions import DjangoModelPermissions

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ModelPermissionsWithRead(DjangoModelPermissions):
    """Any authenticated user may read; POST/PUT/PATCH/DELETE need the model's add/change/delete permission."""

    authenticated_users_only = True

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        # A method the view does not offer should answer 405 to a signed-in caller, not 403.
        if request.user and request.user.is_authenticated and not hasattr(view, (request.method or "").lower()):
            return True
        return super().has_permission(request, view)


class ModelChangePermission(ModelPermissionsWithRead):
    """For state-changing actions reached by POST (resolve, activate): they need the model's change permission."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }
