"""Writes for workstreams and their tasks."""

from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

import events
from events.subjects import WORKSTREAM_COMPLETED
from hub.errors import ContradictsWorkplan, ValidationFailed
from hub.models import Task, Workstream
from hub.services._common import apply_fields, bulk_insert, check_fields, reject_unknown_fields, validate_and_save
from hub.transitions import normalize_status, status_change
from hub.workplan_contradictions import contradiction_with_file, workplan_file_status

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


def _normalize_task_priority(values: dict[str, Any]) -> None:
    if "priority" in values:
        word = str(values["priority"]).strip().lower()
        if word not in Task.Priority.values:
            raise ValidationFailed(
                f'"{values["priority"]}" is not a task priority (one of: {", ".join(Task.Priority.values)}).',
                field="priority",
            )
        values["priority"] = word


def workstream_build(*, data: dict[str, Any]) -> Workstream:
    """An unsaved workstream under the create rules: known fields, current status words, `completed_at`, field checks.

    The one place those rules live: `workstream_create` and the bulk `workplans_import` both build here.
    """
    reject_unknown_fields(data, WORKSTREAM_FIELDS)
    values = dict(data)
    if "status" in values:
        values["status"] = normalize_status(Workstream, values["status"])
    workstream = Workstream(**values)
    if workstream.status == Workstream.Status.COMPLETED:
        workstream.completed_at = timezone.now()
    check_fields(workstream)
    return workstream


@transaction.atomic
def workstream_create(*, data: dict[str, Any]) -> Workstream:
    """Create a workstream (any starting status; creating is not a transition, so no event)."""
    return validate_and_save(workstream_build(data=data), creating=True)


def task_counts(workstream: Workstream) -> dict[str, int]:
    """Counts of a workstream's tasks as the `workstream.completed` event reports them."""
    counts = Task.objects.filter(workstream=workstream).aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(status=Task.Status.DONE)),
        cancel=Count("id", filter=Q(status=Task.Status.CANCEL)),
        open=Count("id", filter=Q(status__in=Task.OPEN_STATUSES)),
    )
    return {name: int(counts[name]) for name in ("total", "done", "cancel", "open")}


def workstream_update(*, workstream: Workstream, data: dict[str, Any], despite_workplan: bool = False) -> Workstream:
    """Change a workstream; a status change follows the table, and entering `completed` records an event.

    A status its workplan file does not state is refused (ContradictsWorkplan) unless `despite_workplan`:
    the sync would move it back or report a conflict on every run (`hub.workplan_contradictions`).
    The file is read before the transaction, so reading it never holds the workstream's row lock.
    """
    reject_unknown_fields(data, WORKSTREAM_FIELDS)
    checks_file = "status" in data and not despite_workplan
    file_status = workplan_file_status(workstream) if checks_file else None
    return _workstream_update(workstream=workstream, data=data, checks_file=checks_file, file_status=file_status)


@transaction.atomic
def _workstream_update(
    *, workstream: Workstream, data: dict[str, Any], checks_file: bool, file_status: str | None
) -> Workstream:
    workstream = Workstream.objects.select_for_update(of=("self",)).select_related("repo__domain").get(pk=workstream.pk)
    values = dict(data)
    previous_status = workstream.status
    target = status_change(workstream, values.pop("status")) if "status" in values else previous_status
    if checks_file:
        contradiction = contradiction_with_file(workstream=workstream, status=target, file_status=file_status)
        if contradiction is not None:
            raise ContradictsWorkplan(contradiction.message, field="status")
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


def task_build(*, data: dict[str, Any]) -> Task:
    """An unsaved task under the create rules: known fields, current status and priority words, field checks.

    The one place those rules live: `task_create` and the bulk creates (`tasks_create_bulk`,
    `workplans_import`) all build here, so a rule added once holds for every way a task is made.
    """
    reject_unknown_fields(data, TASK_FIELDS)
    values = dict(data)
    if "status" in values:
        values["status"] = normalize_status(Task, values["status"])
    _normalize_task_priority(values)
    task = Task(**values)
    task.last_activity_at = timezone.now()
    check_fields(task)
    return task


@transaction.atomic
def task_create(*, data: dict[str, Any]) -> Task:
    """Create a task in a workstream (any starting status)."""
    return validate_and_save(task_build(data=data), creating=True)


@transaction.atomic
def tasks_create_bulk(*, workstream: Workstream, items: list[dict[str, Any]]) -> list[Task]:
    """Create many tasks of one workstream in one INSERT, built by `task_build` like `task_create`.

    The workplan sync creates thousands of tasks on a first import: one INSERT per workstream
    instead of a round of validation queries per task. Creation is not a transition and records no
    event, so the outcome is the same as calling `task_create` for each item. Keys already taken
    (checked by the caller, enforced by the unique index) raise Conflict.
    """
    tasks = [task_build(data={**item, "workstream": workstream}) for item in items]
    bulk_insert(Task, tasks)
    return tasks


@transaction.atomic
def workplans_import(
    *, items: list[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> list[tuple[Workstream, list[Task]]]:
    """Create new workstreams, each with its tasks, in two INSERTs, built like `workstream_create`/`task_create`.

    Used by the workplan sync for workplans the hub has never seen. Like `workstream_create`, a
    workstream may start in any status (no event; a `completed` one gets its `completed_at`).
    """
    workstreams = [workstream_build(data=data) for data, _ in items]
    bulk_insert(Workstream, workstreams)
    created = [
        (workstream, [task_build(data={**task, "workstream": workstream}) for task in tasks])
        for workstream, (_, tasks) in zip(workstreams, items, strict=True)
    ]
    bulk_insert(Task, [task for _, tasks in created for task in tasks])
    return created


@transaction.atomic
def task_update(*, task: Task, data: dict[str, Any]) -> Task:
    """Change a task; a status change follows the transition table."""
    reject_unknown_fields(data, TASK_FIELDS)
    task = Task.objects.select_for_update().get(pk=task.pk)
    values = dict(data)
    if "status" in values:
        values["status"] = status_change(task, values["status"])
    _normalize_task_priority(values)
    changed = apply_fields(task, values)
    if changed:
        if "status" in changed:
            task.last_activity_at = timezone.now()
        validate_and_save(task)
    return task


def workstream_sources_stamp(*, stamps: list[tuple[Any, str, str, str]]) -> int:
    """Store `source_stamp` for (repo id, source path, hash, stamp) where the workstream's `source_hash` is that hash.

    A cache of the files' metadata for the next sweep (`hub.reconcile.reading`), not a change of the
    workstreams: `updated_at`, history and events are left alone. One statement per call; the hash
    condition keeps a stamp from being stored for a file whose content the hub did not apply whole.
    """
    if not stamps:
        return 0
    columns = list(zip(*stamps, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Workstream._meta.db_table)} AS ws SET source_stamp = v.stamp"  # noqa: S608
            " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[]) AS v(repo_id, path, hash, stamp)"
            " WHERE ws.repo_id = v.repo_id AND ws.source_path = v.path AND ws.source_hash = v.hash"
            " AND ws.source_hash <> '' AND ws.source_stamp <> v.stamp",
            [list(column) for column in columns],
        )
        return cursor.rowcount
