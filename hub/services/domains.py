"""Writes for domains, repos and domain goals."""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

import events
from events.subjects import DOMAIN_GOAL_ACTIVATED, REPO_REGISTERED
from hub.checkouts import local_path_problem, workplan_dir_problem
from hub.errors import ValidationFailed
from hub.models import Domain, DomainGoal, Repo
from hub.services._common import apply_fields, reject_unknown_fields, validate_and_save
from hub.transitions import check_transition, normalize_status, status_change

DOMAIN_FIELDS = {"slug", "name", "description", "status"}
REPO_FIELDS = {"slug", "name", "domain", "remote_url", "local_path", "workplan_dir", "default_branch", "status"}
GOAL_FIELDS = {"key", "domain", "title", "description", "status"}


@transaction.atomic
def domain_create(*, data: dict[str, Any]) -> Domain:
    """Create a domain."""
    reject_unknown_fields(data, DOMAIN_FIELDS)
    values = dict(data)
    if "status" in values:
        values["status"] = normalize_status(Domain, values["status"])
    return validate_and_save(Domain(**values), creating=True)


@transaction.atomic
def domain_update(*, domain: Domain, data: dict[str, Any]) -> Domain:
    """Change a domain's fields; a status change follows the transition table."""
    reject_unknown_fields(data, DOMAIN_FIELDS)
    domain = Domain.objects.select_for_update().get(pk=domain.pk)
    values = dict(data)
    if "status" in values:
        values["status"] = status_change(domain, values["status"])
    if apply_fields(domain, values):
        validate_and_save(domain)
    return domain


def _check_checkout_paths(values: dict[str, Any], *, current: Repo | None = None) -> None:
    """Refuse a `local_path` not strictly inside `STATEHUB_REPO_ROOTS`, and a `workplan_dir` absolute or climbing out.

    Checked when a path is set or changed (an unchanged older value is checked when it is read).
    """
    for name, problem_of in (("local_path", local_path_problem), ("workplan_dir", workplan_dir_problem)):
        if name not in values or (current is not None and getattr(current, name) == values[name]):
            continue
        problem = problem_of(values[name]) if isinstance(values[name], str) else f"{name} must be a string."
        if problem:
            raise ValidationFailed(problem, field=name)


@transaction.atomic
def repo_register(*, data: dict[str, Any]) -> Repo:
    """Register a repo and record `org.statehub.repo.registered`; its checkout must be inside an allowed root."""
    reject_unknown_fields(data, REPO_FIELDS)
    values = dict(data)
    _check_checkout_paths(values)
    if "status" in values:
        values["status"] = normalize_status(Repo, values["status"])
    repo = validate_and_save(Repo(**values), creating=True)
    events.record(
        REPO_REGISTERED.name,
        {
            "repo_id": repo.id,
            "repo_slug": repo.slug,
            "domain_slug": repo.domain.slug if repo.domain else None,
            "remote_url": repo.remote_url,
            "local_path": repo.local_path,
            "name": repo.name,
        },
        occurred_at=repo.created_at,
    )
    return repo


@transaction.atomic
def repo_update(*, repo: Repo, data: dict[str, Any]) -> Repo:
    """Change a repo's fields; a status change follows the transition table, new paths the allowed roots."""
    reject_unknown_fields(data, REPO_FIELDS | {"last_synced_at", "last_attempted_at"})
    repo = Repo.objects.select_for_update().get(pk=repo.pk)
    values = dict(data)
    _check_checkout_paths(values, current=repo)
    if "status" in values:
        values["status"] = status_change(repo, values["status"])
    if apply_fields(repo, values):
        validate_and_save(repo)
    return repo


def repos_mark_reconciliation(*, field: str, times: Mapping[Any, dt.datetime | None]) -> None:
    """Set a reconciliation time (`last_attempted_at` or `last_synced_at`) of many repos in one statement.

    Bookkeeping of every run, not a change of the repos: no history row (both fields are excluded
    from it) and no event, as `repo_update` under `history.untracked()` did one repo at a time.
    """
    if field not in {"last_attempted_at", "last_synced_at"}:
        raise ValueError(f"not a reconciliation time: {field}")
    if not times:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Repo._meta.db_table)} AS repo"  # noqa: S608 (names from the model)
            f" SET {connection.ops.quote_name(field)} = v.at, updated_at = %s"
            " FROM unnest(%s::uuid[], %s::timestamptz[]) AS v(id, at) WHERE repo.id = v.id",
            [timezone.now(), list(times), list(times.values())],
        )


@transaction.atomic
def domain_goal_create(*, data: dict[str, Any]) -> DomainGoal:
    """Create a domain goal (any starting status; at most one active per domain)."""
    reject_unknown_fields(data, GOAL_FIELDS)
    values = dict(data)
    if "status" in values:
        values["status"] = normalize_status(DomainGoal, values["status"])
    goal = DomainGoal(**values)
    if goal.status == DomainGoal.Status.ACTIVE:
        goal.activated_at = timezone.now()
    return validate_and_save(goal, creating=True)


@transaction.atomic
def domain_goal_update(*, goal: DomainGoal, data: dict[str, Any]) -> DomainGoal:
    """Change a goal's fields; activation goes through `domain_goal_activate`, other moves through the table."""
    reject_unknown_fields(data, GOAL_FIELDS)
    goal = DomainGoal.objects.select_for_update().get(pk=goal.pk)
    values = dict(data)
    target = status_change(goal, values.pop("status")) if "status" in values else None
    if "domain" in values and values["domain"] != goal.domain and goal.status == DomainGoal.Status.ACTIVE:
        raise ValidationFailed("An active goal cannot move to another domain.", field="domain")
    if apply_fields(goal, values):
        validate_and_save(goal)
    if target is None or target == goal.status:
        return goal
    if target == DomainGoal.Status.ACTIVE:
        return domain_goal_activate(goal=goal)  # it supersedes the domain's active goal and records the event
    goal.status = target
    return validate_and_save(goal)


@transaction.atomic
def domain_goal_activate(*, goal: DomainGoal) -> DomainGoal:
    """Activate a proposed goal, supersede the domain's active one, and record `domain.goal.activated`."""
    goal = DomainGoal.objects.select_for_update(of=("self",)).select_related("domain").get(pk=goal.pk)
    check_transition(DomainGoal, goal.status, DomainGoal.Status.ACTIVE)
    # Lock the domain row so two activations in one domain serialise instead of racing the constraint.
    Domain.objects.select_for_update().filter(pk=goal.domain_id).first()
    superseded = (
        DomainGoal.objects.select_for_update()
        .filter(domain_id=goal.domain_id, status=DomainGoal.Status.ACTIVE)
        .exclude(pk=goal.pk)
        .first()
    )
    if superseded is not None:
        check_transition(DomainGoal, superseded.status, DomainGoal.Status.SUPERSEDED)
        superseded.status = DomainGoal.Status.SUPERSEDED
        superseded.save(update_fields=["status", "updated_at"])
    previous_status = goal.status
    goal.status = DomainGoal.Status.ACTIVE
    goal.activated_at = timezone.now()
    goal.save(update_fields=["status", "activated_at", "updated_at"])
    events.record(
        DOMAIN_GOAL_ACTIVATED.name,
        {
            "goal_id": goal.id,
            "goal_key": goal.key,
            "domain_slug": goal.domain.slug,
            "title": goal.title,
            "previous_status": previous_status,
            "superseded_goal_key": superseded.key if superseded else None,
            "activated_at": goal.activated_at,
        },
        occurred_at=goal.activated_at,
    )
    return goal
