"""The stale-task rule of DESIGN §8, stated once: for a task in memory, and as the query that finds them.

A task is stale when it is open and its workstream is closed (`workstream_closed`), or its file no
longer lists it (`missing_from_workplan`); a task both is counted under the first reason. Age plays
no part. `cleanup_stale_tasks` cancels what the query finds; the reconciliation asks the predicate
so it does not reopen what the cleanup would cancel again. Both read the same status sets
(`Task.OPEN_STATUSES`, `Workstream.CLOSED_STATUSES`), and a test holds the two forms together.
"""

from typing import Any

from django.db.models import Case, CharField, Q, Value, When

from hub.models import Task, Workstream

STALE_REASONS = ("workstream_closed", "missing_from_workplan")


def stale_reason(*, status: str, workstream_status: str, missing_from_workplan: bool) -> str | None:
    """Why a task with this status, workstream status and flag is stale, or None when it is not."""
    if status not in Task.OPEN_STATUSES:
        return None
    if workstream_status in Workstream.CLOSED_STATUSES:
        return "workstream_closed"
    if missing_from_workplan:
        return "missing_from_workplan"
    return None


def stale_tasks() -> Any:  # a QuerySet[Task] annotated with `stale_reason`, which the stubs cannot express
    """Every stale task, annotated with its `stale_reason` (the same rule as `stale_reason`, as one query)."""
    closed = Q(workstream__status__in=Workstream.CLOSED_STATUSES)
    missing = Q(missing_from_workplan_at__isnull=False)
    return Task.objects.filter(Q(status__in=Task.OPEN_STATUSES) & (closed | missing)).annotate(
        stale_reason=Case(
            When(closed, then=Value("workstream_closed")),
            default=Value("missing_from_workplan"),
            output_field=CharField(),
        )
    )
