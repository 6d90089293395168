"""Reads of the hub's state, shared by the API, the admin, commands and MCP tools."""

import contextlib
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict, TypeVar

from django.db import models
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from hub.errors import NotFound
from hub.models import Decision, Domain, DomainGoal, ProgressEvent, Repo, Task, Workstream

M = TypeVar("M", bound=models.Model)


class NextStepAnnotations(TypedDict):
    """What `next_steps_get` adds to each task."""

    reason: str
    decision_boost: bool
    priority_rank: int
    status_rank: int


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    NextStep = WithAnnotations[Task, NextStepAnnotations]
else:
    NextStep = Task

DECISION_BOOST_WINDOW = dt.timedelta(days=7)
TASK_PRIORITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# Orderings of the lists, each ending with a unique field so that keyset pages never overlap.
WORKSTREAM_LIST_ORDERING = ("priority", "key")
DECISION_PENDING_ORDERING = ("created_at", "key")
TASK_LIST_ORDERING = ("order", "key")
PROGRESS_RECENT_ORDERING = ("-created_at", "-id")
NEXT_STEPS_ORDERING = ("-decision_boost", "status_rank", "priority_rank", "workstream__priority", "order", "key")

# Human keys per model: the field a person or agent names an object by.
_KEY_FIELD: dict[type[models.Model], str] = {
    Domain: "slug",
    Repo: "slug",
    DomainGoal: "key",
    Workstream: "key",
    Task: "key",
    Decision: "key",
}


def get_by_key_or_id(model: type[M], value: str, *, queryset: QuerySet[M] | None = None) -> M:
    """Find an object by its UUID or its human key; raise NotFound naming what was asked."""
    if "\x00" in str(value):  # PostgreSQL refuses NUL in text; no key can contain one
        raise NotFound(f"No {model._meta.verbose_name} {value!r}.")
    queryset = queryset if queryset is not None else model._default_manager.all()
    lookup = Q(**{_KEY_FIELD[model]: value}) if model in _KEY_FIELD else Q(pk=None)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(str(value)))
    found = queryset.filter(lookup).first()
    if found is None:
        raise NotFound(f"No {model._meta.verbose_name} {value!r}.")
    return found


def workstream_list(*, repo: str | None = None, status: str | None = None) -> QuerySet[Workstream]:
    """Workstreams with their repo and domain, optionally filtered by repo slug and status.

    Task counts are not part of this query: `workstream_task_counts_attach` adds them to the rows a
    page shows, so neither a page nor its count joins every task of every workstream.
    """
    queryset = Workstream.objects.select_related("repo__domain", "domain_goal")
    if repo:
        queryset = queryset.filter(repo__slug=repo)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def workstream_task_counts_attach(*, workstreams: Sequence[Workstream]) -> Sequence[Workstream]:
    """Set `tasks_total`, `tasks_open` and `tasks_done` on each workstream, in one query over their tasks only.

    Counted when read rather than kept by the services: tasks change through many paths (the API,
    admin, reconciliation's bulk imports, the stale-task sweep's bulk UPDATE), and a counter any one
    of them forgot would be silently wrong; a page of 50 workstreams is one indexed aggregate.
    """
    rows = (
        Task.objects.filter(workstream__in=[workstream.pk for workstream in workstreams])
        .order_by()
        .values("workstream_id")
        .annotate(
            total=Count("pk"),
            open=Count("pk", filter=Q(status__in=Task.OPEN_STATUSES)),
            done=Count("pk", filter=Q(status=Task.Status.DONE)),
        )
        .values_list("workstream_id", "total", "open", "done")
    )
    counts: dict[uuid.UUID, tuple[int, int, int]] = (
        {workstream_id: (total, open_, done) for workstream_id, total, open_, done in rows} if workstreams else {}
    )
    for workstream in workstreams:
        total, open_, done = counts.get(workstream.pk, (0, 0, 0))
        workstream.tasks_total = total  # type: ignore[attr-defined]
        workstream.tasks_open = open_  # type: ignore[attr-defined]
        workstream.tasks_done = done  # type: ignore[attr-defined]
    return workstreams


def decision_pending_list() -> QuerySet[Decision]:
    """Decisions still waiting for an answer (open or escalated)."""
    return Decision.objects.filter(status__in=[Decision.Status.OPEN, Decision.Status.ESCALATED]).select_related(
        "repo", "workstream"
    )


def progress_recent_list(*, since: dt.datetime | None = None) -> QuerySet[ProgressEvent]:
    """Progress entries, newest first (entries of the same moment by id), optionally from `since` on."""
    queryset = ProgressEvent.objects.select_related("workstream", "task").order_by(*PROGRESS_RECENT_ORDERING)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    return queryset


def next_steps_get(
    *, repo: str | None = None, workstream: str | None = None, domain: str | None = None
) -> "QuerySet[NextStep]":
    """What to work on next: open tasks (`todo`, then `progress`) of active workstreams, each with a reason.

    Tasks of workstreams with a decision resolved in the last 7 days come first (`decision_resolved`);
    then `todo` tasks (`ready`) before `progress` ones (`in_progress`); within each, by task priority,
    workstream priority and task order. Tasks in `wait` are never next.
    """
    recent_decision = Decision.objects.filter(
        workstream=OuterRef("workstream"),
        status=Decision.Status.RESOLVED,
        resolved_at__gte=timezone.now() - DECISION_BOOST_WINDOW,
    )
    queryset = (
        Task.objects.filter(
            status__in=[Task.Status.TODO, Task.Status.PROGRESS],
            workstream__status=Workstream.Status.ACTIVE,
        )
        .select_related("workstream__repo__domain")
        .annotate(
            decision_boost=Exists(recent_decision),
            priority_rank=Case(
                *[When(priority=word, then=Value(rank)) for word, rank in TASK_PRIORITY_RANK.items()],
                default=Value(len(TASK_PRIORITY_RANK)),
                output_field=IntegerField(),
            ),
            status_rank=Case(
                When(status=Task.Status.TODO, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
            reason=Case(
                When(decision_boost=True, then=Value("decision_resolved")),
                When(status=Task.Status.TODO, then=Value("ready")),
                default=Value("in_progress"),
                output_field=models.CharField(),
            ),
        )
        .order_by(*NEXT_STEPS_ORDERING)
    )
    if repo:
        queryset = queryset.filter(workstream__repo__slug=repo)
    if workstream:
        queryset = queryset.filter(workstream__key=workstream)
    if domain:
        queryset = queryset.filter(workstream__repo__domain__slug=domain)
    return queryset
