"""Who may change what: the one rule every door consults (API, admin, MCP, syncs).

Reads are open to every signed-in user, org-wide: the hub is the organisation's shared read model.
A write is allowed when both hold:

- the **user** may make it: a superuser, or a holder of the org-wide Django model permission
  (`hub.change_task`, ... — operators), or an `editor` of every domain the write touches
  (`DomainAccess`, to the user or one of their groups);
- the **token** it came with (none through the admin, the stdio MCP server and the commands)
  allows it: not `read_only`; when it names domains, every domain the write touches is one of
  them; when it names MCP tools, the write is one of those tools.

An object's domain is its own (`Repo.domain`, `DomainGoal.domain`) or its parent's: workstream →
repo, task → workstream, decision → workstream and repo, progress event → task and workstream. A
write touches the domains of the object before and after it (moving a repo from A to B needs both).
An object with no domain (a repo without one, a decision or progress event attached to nothing)
and the domains themselves need the org-wide model permission; so do sweeps of every repo, the
outbox's actions and domain access management. Management commands run as operators and are not
checked.

The grants a check needs are read in one query (the user's editor domains and the token's domains
together) and cached on the request's user object, so a request pays it once and a read never; an
operator's write through no token, or a token that names no domain, reads none.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db.models import Model, Q, Value

from hub.models import ApiToken, Decision, Domain, DomainAccess, DomainGoal, ProgressEvent, Repo, Task, Workstream

ADD = "add"
CHANGE = "change"

# The domain-less "domain": writes to it need the org-wide model permission.
NO_DOMAIN = None

# The MCP tools that write, each with the action and model it amounts to.
MCP_WRITE_TOOLS = {
    "resolve_decision": (CHANGE, Decision),
    "add_progress_event": (ADD, ProgressEvent),
}

_CACHE_ATTRIBUTE = "_hub_access_grants"


@dataclass(frozen=True)
class Grants:
    """What one user (through one token) may touch: their editor domains and the token's domains (None: any)."""

    editor_domains: frozenset[UUID]
    token_domains: frozenset[UUID] | None


def grants(user: Any, token: ApiToken | None) -> Grants:
    """The user's editor domains and the token's domain scope: one query, cached on the user object."""
    cache: dict[str, Grants] | None = getattr(user, _CACHE_ATTRIBUTE, None)
    if cache is None:
        cache = {}
        setattr(user, _CACHE_ATTRIBUTE, cache)
    cache_key = token.pk if token is not None else ""
    if cache_key in cache:
        return cache[cache_key]
    roles = (
        DomainAccess.objects.filter(Q(user=user) | Q(group__user=user), role=DomainAccess.Role.EDITOR)
        .annotate(source=Value("role"))
        .values_list("domain_id", "source")
    )
    if token is not None and token.domain_scoped:
        scope = (
            ApiToken.domains.through.objects.filter(apitoken_id=token.pk)
            .annotate(source=Value("token"))
            .values_list("domain_id", "source")
        )
        rows = list(roles.union(scope, all=True))
    else:
        rows = list(roles)
    token_domains = frozenset(domain for domain, source in rows if source == "token")
    result = Grants(
        editor_domains=frozenset(domain for domain, source in rows if source == "role"),
        token_domains=token_domains if token_domains else None,
    )
    cache[cache_key] = result
    return result


def _domain_of_repo(repo: Repo | None) -> UUID | None:
    return repo.domain_id if repo is not None else NO_DOMAIN


def _domain_of_workstream(workstream: Workstream | None) -> UUID | None:
    return _domain_of_repo(workstream.repo) if workstream is not None else NO_DOMAIN


def domains_of(obj: Model) -> frozenset[UUID | None]:
    """The domains an object belongs to (NO_DOMAIN for one that has none); never empty."""
    if isinstance(obj, Domain):
        return frozenset([NO_DOMAIN])
    if isinstance(obj, Repo):
        return frozenset([obj.domain_id])
    if isinstance(obj, DomainGoal):
        return frozenset([obj.domain_id])
    if isinstance(obj, Workstream):
        return frozenset([_domain_of_repo(obj.repo)])
    if isinstance(obj, Task):
        return frozenset([_domain_of_workstream(obj.workstream)])
    if isinstance(obj, Decision):
        found = set()
        if obj.workstream_id is not None:
            found.add(_domain_of_workstream(obj.workstream))
        if obj.repo_id is not None:
            found.add(_domain_of_repo(obj.repo))
        return frozenset(found or [NO_DOMAIN])
    if isinstance(obj, ProgressEvent):
        found = set()
        if obj.task is not None:
            found.add(_domain_of_workstream(obj.task.workstream))
        if obj.workstream_id is not None:
            found.add(_domain_of_workstream(obj.workstream))
        return frozenset(found or [NO_DOMAIN])
    return frozenset([NO_DOMAIN])


# The fields whose value decides an object's domain, per model.
DOMAIN_FIELDS: Mapping[type[Model], tuple[str, ...]] = {
    Repo: ("domain",),
    DomainGoal: ("domain",),
    Workstream: ("repo",),
    Task: ("workstream",),
    Decision: ("workstream", "repo"),
    ProgressEvent: ("task", "workstream"),
}


def domains_after(model: type[Model], data: Mapping[str, Any], instance: Model | None = None) -> frozenset[UUID | None]:
    """The domains an object has once `data` (validated: related objects, not keys) is applied to it."""
    fields = DOMAIN_FIELDS.get(model)
    if fields is None:
        return frozenset([NO_DOMAIN])
    probe = model()
    for name in fields:
        value = data[name] if name in data else (getattr(instance, name) if instance is not None else None)
        setattr(probe, name, value)
    return domains_of(probe)


def refusal(
    user: Any,
    token: ApiToken | None,
    model: type[Model],
    domains: Iterable[UUID | None],
    *,
    action: str = CHANGE,
    mcp_tool: str | None = None,
) -> str | None:
    """Why this user, through this token, may not `action` a `model` in these domains; None when they may."""
    if user is None or not user.is_authenticated or not user.is_active:
        return "Writes need a signed-in, active user."
    if token is not None:
        if token.read_only:
            return f"The token {token.name!r} is read-only."
        if token.mcp_tools and mcp_tool not in token.mcp_tools:
            return f"The token {token.name!r} may only make the MCP writes {', '.join(sorted(token.mcp_tools))}."
    permission = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
    org_wide = user.is_superuser or user.has_perm(permission)
    if org_wide and (token is None or not token.domain_scoped):
        return None  # no grant to read: an operator, through no token or one that names no domain
    found = grants(user, token)
    for domain in set(domains):
        if token is not None and found.token_domains is not None:
            if domain is NO_DOMAIN:
                return f"The token {token.name!r} is limited to some domains; this write belongs to none."
            if domain not in found.token_domains:
                return f"The token {token.name!r} is not scoped to the domain this write belongs to."
        if org_wide:
            continue
        if domain is NO_DOMAIN:
            return f"This write belongs to no domain: it needs the org-wide permission {permission}."
        if domain not in found.editor_domains:
            return "You are not an editor of the domain this write belongs to."
    return None


def may(
    user: Any,
    token: ApiToken | None,
    model: type[Model],
    domains: Iterable[UUID | None],
    *,
    action: str = CHANGE,
    mcp_tool: str | None = None,
) -> bool:
    return refusal(user, token, model, domains, action=action, mcp_tool=mcp_tool) is None


def may_change(user: Any, token: ApiToken | None, obj: Model) -> bool:
    return refusal(user, token, type(obj), domains_of(obj)) is None


def may_edit_any(user: Any, token: ApiToken | None = None) -> bool:
    """Whether the user may write anything at all (any org-wide hub permission, or an editor role somewhere)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.has_module_perms("hub"):
        return True
    return bool(grants(user, token).editor_domains)


def editable_domain_ids(user: Any, model: type[Model]) -> frozenset[UUID] | None:
    """The domains in which this user may change `model` objects; None for every one (and domain-less ones)."""
    if user.is_superuser or user.has_perm(f"{model._meta.app_label}.change_{model._meta.model_name}"):
        return None
    return grants(user, None).editor_domains


def request_token(request: Any) -> ApiToken | None:
    """The scoped token a request was authenticated with (None for a session or the stdio MCP server)."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None
