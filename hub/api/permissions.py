"""API permissions: authenticated reads, writes gated by the model's Django permission."""

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissionsWithRead(DjangoModelPermissions):
    """Any authenticated user may read; POST/PUT/PATCH/DELETE need the model's add/change/delete permission."""

    authenticated_users_only = True
