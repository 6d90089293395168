"""Writes for workstreams and their tasks."""

from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

import events
from events.subjects import TASK_STALE, WORKSTREAM_COMPLETED
from hub.errors import ValidationFailed
from hub.models import Task, Workstream
from hub.services._common import apply_fields, reject_unknown_fields, validate_and_save
from hub.transitions import check_transition, normalize_status

WORKSTREAM_FIELDS = {
    "key",
    "repo",
    "domain_goal",
    "title",
    "owner",
    "priority",
    "status",
    "source_path",
    "source_hash",
    "missing_from_repo_at",
}
TASK_FIELDS = {
    "key",
    "workstream",
    "title",
    "status",
    "priority",
    "order",
    "assignee",
    "blocking_reason",
    "missing_from_workplan_at",
}
STALE_REASONS = ("workstream_closed", "missing_from_workplan")


def _normalize_task_priority(values: dict[str, Any]) -> None:
    if "priority" in values:
        word = str(values["priority"]).strip().lower()
        if word not in Task.Priority.values:
            raise ValidationFailed(
                f'"{values["priority"]}" is not a task priority (one of: {", ".join(Task.Priority.values)}).',
                field="priority",
            )
        values["priority"] = word


@transaction.atomic
def workstream_create(*, data: dict[str, Any]) -> Workstream:
    """Create a workstream (any starting status)."""
    reject_unknown_fields(data, WORKSTREAM_FIELDS)
    values = dict(data)
    if "status" in values:
        values["status"] = normalize_status("workstream", values["status"])
    workstream = Workstream(**values)
    if workstream.status == Workstream.Status.COMPLETED:
        workstream.completed_at = timezone.now()
    return validate_and_save(workstream, creating=True)


def task_counts(workstream: Workstream) -> dict[str, int]:
    """Counts of a workstream's tasks as the `workstream.completed` event reports them."""
    counts = Task.objects.filter(workstream=workstream).aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(status=Task.Status.DONE)),
        cancel=Count("id", filter=Q(status=Task.Status.CANCEL)),
        open=Count("id", filter=Q(status__in=Task.OPEN_STATUSES)),
    )
    return {name: int(counts[name]) for name in ("total", "done", "cancel", "open")}


@transaction.atomic
def workstream_update(*, workstream: Workstream, data: dict[str, Any]) -> Workstream:
    """Change a workstream; a status change follows the table, and entering `completed` records an event."""
    reject_unknown_fields(data, WORKSTREAM_FIELDS)
    workstream = Workstream.objects.select_for_update(of=("self",)).select_related("repo__domain").get(pk=workstream.pk)
    values = dict(data)
    previous_status = workstream.status
    target = normalize_status("workstream", values.pop("status")) if "status" in values else previous_status
    if target != previous_status:
        check_transition("workstream", previous_status, target)
    changed = apply_fields(workstream, values)
    if target != previous_status:
        workstream.status = target
        changed.append("status")
        if target == Workstream.Status.COMPLETED:
            workstream.completed_at = timezone.now()
    if not changed:
        return workstream
    validate_and_save(workstream)
    if target == Workstream.Status.COMPLETED and previous_status != target:
        assert workstream.completed_at is not None
        events.record(
            WORKSTREAM_COMPLETED.name,
            {
                "workstream_id": workstream.id,
                "workstream_key": workstream.key,
                "title": workstream.title,
                "repo_slug": workstream.repo.slug,
                "domain_slug": workstream.repo.domain.slug if workstream.repo.domain else None,
                "previous_status": previous_status,
                "completed_at": workstream.completed_at,
                "tasks": task_counts(workstream),
            },
            occurred_at=workstream.completed_at,
        )
    return workstream


@transaction.atomic
def task_create(*, data: dict[str, Any]) -> Task:
    """Create a task in a workstream (any starting status)."""
    reject_unknown_fields(data, TASK_FIELDS)
    values = dict(data)
    if "status" in values:
        values["status"] = normalize_status("task", values["status"])
    _normalize_task_priority(values)
    task = Task(**values)
    task.last_activity_at = timezone.now()
    return validate_and_save(task, creating=True)


@transaction.atomic
def task_update(*, task: Task, data: dict[str, Any]) -> Task:
    """Change a task; a status change follows the transition table."""
    reject_unknown_fields(data, TASK_FIELDS)
    task = Task.objects.select_for_update().get(pk=task.pk)
    values = dict(data)
    if "status" in values:
        values["status"] = normalize_status("task", values["status"])
        if values["status"] != task.status:
            check_transition("task", task.status, values["status"])
    _normalize_task_priority(values)
    changed = apply_fields(task, values)
    if changed:
        if "status" in changed:
            task.last_activity_at = timezone.now()
        validate_and_save(task)
    return task


@transaction.atomic
def task_cancel_stale(*, task: Task, reason: str) -> Task:
    """Cancel an open task that lost its reason to exist, and record `org.statehub.task.stale`."""
    if reason not in STALE_REASONS:
        raise ValidationFailed(f"Unknown stale reason {reason!r} (one of: {', '.join(STALE_REASONS)}).", field="reason")
    task = Task.objects.select_for_update(of=("self",)).select_related("workstream__repo").get(pk=task.pk)
    previous_status = task.status
    check_transition("task", previous_status, Task.Status.CANCEL)
    now = timezone.now()
    task.status = Task.Status.CANCEL
    task.last_activity_at = now
    task.save(update_fields=["status", "last_activity_at", "updated_at"])
    events.record(
        TASK_STALE.name,
        {
            "task_id": task.id,
            "task_key": task.key,
            "title": task.title,
            "workstream_key": task.workstream.key,
            "workstream_status": task.workstream.status,
            "repo_slug": task.workstream.repo.slug,
            "previous_status": previous_status,
            "reason": reason,
            "canceled_at": now,
        },
        occurred_at=now,
    )
    return task
