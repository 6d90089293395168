"""Housekeeping writes: canceling stale tasks (DESIGN §8)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

import events
from events.subjects import TASK_STALE
from hub.models import ProgressEvent, Task
from hub.services._common import history_rows_add
from hub.services.decisions import progress_event_add
from hub.stale import STALE_REASONS, stale_tasks
from hub.transitions import check_transition

CLEANUP_AUTHOR = "cleanup_stale_tasks"


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


@transaction.atomic
def stale_tasks_cancel_batch(*, task_ids: list[Any]) -> dict[str, int]:
    """Cancel those of the given tasks that are stale now, recording one `task.stale` event each.

    The one place a task is canceled as stale: each task goes to `cancel` and its event is
    recorded in the same transaction. The rule is re-checked under row
    locks, so a task canceled by a parallel run, reopened, or whose workstream reopened meanwhile
    is left alone. One locking read and one UPDATE per batch instead of per task is what keeps a
    100k-task cleanup in seconds. Returns the number canceled per reason.
    """
    rows = list(
        stale_tasks()
        .filter(pk__in=task_ids)
        .select_for_update(of=("self",))
        .order_by("pk")
        .values_list(
            "pk",
            "key",
            "title",
            "status",
            "stale_reason",
            "workstream__key",
            "workstream__status",
            "workstream__repo__slug",
        )
    )
    counts = dict.fromkeys(STALE_REASONS, 0)
    if not rows:
        return counts
    now = timezone.now()
    for row in rows:
        check_transition(Task, row[3], Task.Status.CANCEL)  # the one table decides
    canceled_ids = [row[0] for row in rows]
    Task.objects.filter(pk__in=canceled_ids).update(status=Task.Status.CANCEL, last_activity_at=now, updated_at=now)
    history_rows_add(Task, canceled_ids, created=False, at=now)  # the UPDATE writes none by itself
    attributes_list = []
    for pk, key, title, previous_status, reason, workstream_key, workstream_status, repo_slug in rows:
        attributes_list.append(
            {
                "task_id": pk,
                "task_key": key,
                "title": title,
                "workstream_key": workstream_key,
                "workstream_status": workstream_status,
                "repo_slug": repo_slug,
                "previous_status": previous_status,
                "reason": reason,
                "canceled_at": now,
            }
        )
        counts[reason] += 1
    events.record_many(TASK_STALE.name, attributes_list, occurred_at=now)
    return counts


def stale_tasks_cleanup(
    *, dry_run: bool = False, batch_size: int = 500, on_progress: Callable[[int, int], None] | None = None
) -> CleanupReport:
    """Cancel every stale task (one `task.stale` event each) and log one summary progress event.

    Stale ids are read in keyset-paginated batches (memory stays flat however many tasks there
    are); each batch is one transaction (`stale_tasks_cancel_batch`) in which every cancel and its
    event commit together. A task that stopped being stale before its batch ran is skipped.
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
        canceled = stale_tasks_cancel_batch(task_ids=[pk for pk, _ in batch])
        for reason, count in canceled.items():
            report.canceled[reason] += count
        report.skipped += len(batch) - sum(canceled.values())
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
