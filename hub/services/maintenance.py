"""Housekeeping writes: canceling stale tasks (DESIGN §8) and the bulk task creation of the workplan sync."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, Count, Q, Value, When
from django.utils import timezone

from hub.errors import Conflict, HubError, ValidationFailed
from hub.models import ProgressEvent, Task, Workstream
from hub.services._common import reject_unknown_fields
from hub.services.decisions import progress_event_add
from hub.services.workstreams import (
    STALE_REASONS,
    TASK_FIELDS,
    WORKSTREAM_FIELDS,
    _normalize_task_priority,
    task_cancel_stale,
)
from hub.transitions import normalize_status

CLEANUP_AUTHOR = "cleanup_stale_tasks"
CLOSED_WORKSTREAM_STATUSES = (Workstream.Status.COMPLETED, Workstream.Status.ARCHIVED)
_UNCHECKED_WORKSTREAM_FIELDS = [
    f.name
    for f in Workstream._meta.concrete_fields
    if f.name not in ("key", "title", "owner", "source_path", "source_hash", "priority")
]
_UNCHECKED_TASK_FIELDS = [
    f.name for f in Task._meta.concrete_fields if f.name not in ("key", "title", "assignee", "blocking_reason", "order")
]


@dataclass
class CleanupReport:
    """What a cleanup run found and did, by reason."""

    dry_run: bool
    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STALE_REASONS, 0))
    canceled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STALE_REASONS, 0))
    skipped: int = 0  # no longer stale when its turn came (another run or an edit got there first)
    summary_event_id: str | None = None

    @property
    def total_found(self) -> int:
        return sum(self.found.values())

    @property
    def total_canceled(self) -> int:
        return sum(self.canceled.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "found": {**self.found, "total": self.total_found},
            "canceled": {**self.canceled, "total": self.total_canceled},
            "skipped": self.skipped,
            "summary_event_id": self.summary_event_id,
        }


def stale_tasks() -> Any:  # a QuerySet[Task] annotated with `stale_reason`, which the stubs cannot express
    """Open tasks whose workstream is closed or whose file no longer lists them, annotated with `stale_reason`."""
    closed = Q(workstream__status__in=CLOSED_WORKSTREAM_STATUSES)
    return Task.objects.filter(
        Q(status__in=Task.OPEN_STATUSES) & (closed | Q(missing_from_workplan_at__isnull=False))
    ).annotate(
        stale_reason=Case(
            When(closed, then=Value("workstream_closed")),
            default=Value("missing_from_workplan"),
            output_field=CharField(),
        )
    )


def _batches(batch_size: int) -> Iterator[list[tuple[Any, str]]]:
    """Stale task ids with their reason, in keyset-paginated batches (never the whole set in memory)."""
    last_id = None
    while True:
        query = stale_tasks().order_by("pk")
        if last_id is not None:
            query = query.filter(pk__gt=last_id)
        batch = list(query.values_list("pk", "stale_reason")[:batch_size])
        if not batch:
            return
        yield batch
        last_id = batch[-1][0]


def stale_tasks_cleanup(
    *, dry_run: bool = False, batch_size: int = 500, on_progress: Callable[[int, int], None] | None = None
) -> CleanupReport:
    """Cancel every stale task (one `task.stale` event each) and log one summary progress event.

    Each batch is one transaction holding row locks on its tasks; every cancel and its event
    commit together. A task that stopped being stale before its batch ran (canceled by a
    parallel run, reopened, its workstream reopened) is re-checked under the lock and skipped.
    `dry_run` counts and changes nothing.
    """
    report = CleanupReport(dry_run=dry_run)
    counts = stale_tasks().values("stale_reason").order_by().annotate(n=Count("pk"))
    for row in counts:
        report.found[row["stale_reason"]] = row["n"]
    total = report.total_found
    if dry_run or total == 0:
        return report
    done = 0
    for batch in _batches(batch_size):
        with transaction.atomic():
            ids = [pk for pk, _ in batch]
            # Re-read under row locks: the rule is re-checked at the moment of the change.
            still_stale = dict(
                stale_tasks().filter(pk__in=ids).select_for_update(of=("self",)).values_list("pk", "stale_reason")
            )
            for pk, _ in batch:
                reason = still_stale.get(pk)
                if reason is None:
                    report.skipped += 1
                    continue
                try:
                    task_cancel_stale(task=Task(pk=pk), reason=reason)
                except HubError:
                    report.skipped += 1
                    continue
                report.canceled[reason] += 1
        done += len(batch)
        if on_progress is not None:
            on_progress(done, total)
    if report.total_canceled:
        by_reason = ", ".join(f"{reason}: {count}" for reason, count in report.canceled.items() if count)
        event = progress_event_add(
            summary=f"cleanup_stale_tasks canceled {report.total_canceled} stale task(s) ({by_reason})",
            event_type=ProgressEvent.EventType.NOTE,
            detail="Open tasks of completed/archived workstreams, or no longer listed in their workplan file.",
            author=CLEANUP_AUTHOR,
        )
        report.summary_event_id = str(event.pk)
    return report


def _build_tasks(workstream: Workstream, items: list[dict[str, Any]]) -> list[Task]:
    """Unsaved tasks checked by the rules of `task_create` (status words, priority, field limits)."""
    now = timezone.now()
    tasks = []
    for data in items:
        reject_unknown_fields(data, TASK_FIELDS - {"workstream"})
        values = dict(data)
        if "status" in values:
            values["status"] = normalize_status("task", values["status"])
        _normalize_task_priority(values)
        task = Task(**values, workstream=workstream, last_activity_at=now)
        _clean(task, exclude=_UNCHECKED_TASK_FIELDS)
        tasks.append(task)
    return tasks


def _clean(instance: Task | Workstream, *, exclude: list[str]) -> None:
    try:
        # Statuses were mapped above and keys were checked by the caller (the unique index has the last word).
        instance.clean_fields(exclude=exclude)
    except ValidationError as exc:
        errors = {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
        raise ValidationFailed(f"{instance}: {next(iter(errors.values()))[0]}", errors=errors) from exc


def _bulk_insert(model: type[Task] | type[Workstream], rows: list[Any]) -> None:
    try:
        model.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise Conflict(f"These rows conflict with existing data: {exc.__cause__ or exc}") from exc


@transaction.atomic
def tasks_create_bulk(*, workstream: Workstream, items: list[dict[str, Any]]) -> list[Task]:
    """Create many tasks of one workstream in one INSERT, under the rules of `task_create`.

    The workplan sync creates thousands of tasks on a first import; one validated INSERT per
    workstream instead of a round of validation queries per task. Creation is not a transition
    and records no event, so the outcome is the same as calling `task_create` for each item.
    Keys already taken (checked by the caller, enforced by the unique index) raise Conflict.
    """
    tasks = _build_tasks(workstream, items)
    _bulk_insert(Task, tasks)
    return tasks


@transaction.atomic
def workplans_import(
    *, items: list[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> list[tuple[Workstream, list[Task]]]:
    """Create new workstreams, each with its tasks, in two INSERTs, under the rules of the create services.

    Used by the workplan sync for workplans the hub has never seen. Like `workstream_create`, a
    workstream may start in any status (no event; a `completed` one gets its `completed_at`).
    """
    now = timezone.now()
    workstreams = []
    for data, _ in items:
        reject_unknown_fields(data, WORKSTREAM_FIELDS)
        values = dict(data)
        if "status" in values:
            values["status"] = normalize_status("workstream", values["status"])
        workstream = Workstream(**values)
        if workstream.status == Workstream.Status.COMPLETED:
            workstream.completed_at = now
        _clean(workstream, exclude=_UNCHECKED_WORKSTREAM_FIELDS)
        workstreams.append(workstream)
    _bulk_insert(Workstream, workstreams)
    created = [
        (workstream, _build_tasks(workstream, tasks)) for workstream, (_, tasks) in zip(workstreams, items, strict=True)
    ]
    _bulk_insert(Task, [task for _, tasks in created for task in tasks])
    return created
