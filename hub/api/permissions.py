"""API permissions: authenticated reads, writes gated by the model's Django permission."""

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissionsWithRead(DjangoModelPermissions):
    """Any authenticated user may read; POST/PUT/PATCH/DELETE need the model's add/change/delete permission."""

    authenticated_users_only = True


class ModelChangePermission(ModelPermissionsWithRead):
    """For state-changing actions reached by POST (resolve, activate): they need the model's change permission."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }
