"""Domain access: grant a role on a domain to a user or a group, revoke it, list the grants.

Every grant and revoke is a history row of `DomainAccess` (`hub.history`) with the door it came
through: `command` (`manage.py domain_access`), `admin` (the members inline on a domain) or `api`
(`/domains/{slug}/members/`). Who may call these is the door's business: org admins only.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from hub.errors import NotFound, ValidationFailed
from hub.models import Domain, DomainAccess

GROUP_PREFIX = "group:"


def domain_get(slug: str) -> Domain:
    domain = Domain.objects.filter(slug=slug).first()
    if domain is None:
        raise NotFound(f"There is no domain {slug!r}.")
    return domain


def member_resolve(member: str) -> tuple[Any | None, Group | None]:
    """A user by username, or a group written `group:NAME`; NotFound naming it otherwise."""
    if member.startswith(GROUP_PREFIX):
        name = member.removeprefix(GROUP_PREFIX)
        group = Group.objects.filter(name=name).first()
        if group is None:
            raise NotFound(f"There is no group {name!r}.")
        return None, group
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: member}).first()
    if user is None:
        raise NotFound(f"There is no user {member!r} (a group is written group:NAME).")
    return user, None


def _role(role: str) -> str:
    if role not in DomainAccess.Role.values:
        raise ValidationFailed(f"A role is one of {', '.join(DomainAccess.Role.values)}, not {role!r}.", field="role")
    return role


@transaction.atomic
def domain_access_grant(*, domain: Domain, member: str, role: str) -> tuple[DomainAccess, str]:
    """Give `member` (a username or `group:NAME`) this role on the domain, replacing another role.

    Returns the grant and what happened: `granted`, `changed` (another role before) or `kept`.
    """
    role = _role(role)
    user, group = member_resolve(member)
    lookup = {"user": user} if user is not None else {"group": group}
    grant = DomainAccess.objects.select_for_update().filter(domain=domain, **lookup).first()
    if grant is None:
        return DomainAccess.objects.create(domain=domain, role=role, **lookup), "granted"
    if grant.role == role:
        return grant, "kept"
    grant.role = role
    grant.save(update_fields=["role"])
    return grant, "changed"


@transaction.atomic
def domain_access_revoke(*, domain: Domain, member: str) -> None:
    """Take `member`'s role on the domain away; NotFound when they have none."""
    user, group = member_resolve(member)
    lookup = {"user": user} if user is not None else {"group": group}
    grant = DomainAccess.objects.filter(domain=domain, **lookup).first()
    if grant is None:
        raise NotFound(f"{member!r} has no role on {domain.slug!r}.")
    grant.delete()  # a history row of type "-", with its door


def domain_access_list(*, domain: Domain | None = None) -> list[DomainAccess]:
    queryset = DomainAccess.objects.select_related("domain", "user", "group").order_by(
        "domain__slug", "user__username", "group__name"
    )
    if domain is not None:
        queryset = queryset.filter(domain=domain)
    return list(queryset)


def domain_access_describe(grant: DomainAccess) -> dict[str, Any]:
    return {
        "domain": grant.domain.slug,
        "member": grant.member_label,
        "user": grant.user.get_username() if grant.user is not None else None,
        "group": grant.group.name if grant.group is not None else None,
        "role": grant.role,
        "created_at": grant.created_at,
    }
