"""Reads of the hub's state, shared by the API, the admin, commands and MCP tools."""

import contextlib
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from django.db import models
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from hub.errors import NotFound
from hub.keyset import keyset_after
from hub.models import Decision, Domain, DomainGoal, ProgressEvent, Repo, Task, Workstream
from statehub.pagination import bounded_count

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
# Next steps take the most urgent first: the priorities' choices (low … critical, the order `?ordering=priority`
# follows, statehub.ordering) read backwards, so critical is 0.
TASK_PRIORITY_RANK = {priority: rank for rank, priority in enumerate(reversed(Task.Priority.values))}
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
    """Set `task_counts` on each workstream, in one query over their tasks only: total, open and every status.

    Every status of `Task.Status` is a key, zero included, so each door shows the same shape.
    Counted when read rather than kept by the services: tasks change through many paths (the API,
    admin, reconciliation's bulk imports, the stale-task sweep's bulk UPDATE), and a counter any one
    of them forgot would be silently wrong; a page of 50 workstreams is one indexed aggregate.
    """
    statuses = [str(status) for status in Task.Status]
    rows = (
        Task.objects.filter(workstream__in=[workstream.pk for workstream in workstreams])
        .order_by()
        .values("workstream_id")
        # Counting a column of `task_next_steps_idx` (workstream, status, ...) lets PostgreSQL answer
        # from that index alone; counting `pk` would visit every task row (8.6 -> 3.7 ms for 2,500 tasks).
        .annotate(**{status: Count("workstream_id", filter=Q(status=status)) for status in statuses})
        .values_list("workstream_id", *statuses)
    )
    by_status: dict[uuid.UUID, tuple[int, ...]] = {row[0]: row[1:] for row in rows} if workstreams else {}
    zero = (0,) * len(statuses)
    for workstream in workstreams:
        per_status = dict(zip(statuses, by_status.get(workstream.pk, zero), strict=True))
        counts = {
            "total": sum(per_status.values()),
            "open": sum(per_status[str(status)] for status in Task.OPEN_STATUSES),
            **per_status,
        }
        workstream.task_counts = counts  # type: ignore[attr-defined]
    return workstreams


def decision_pending_list() -> QuerySet[Decision]:
    """Decisions still waiting for an answer (open or escalated)."""
    return Decision.objects.filter(status__in=Decision.PENDING_STATUSES).select_related("repo", "workstream")


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


NEXT_STEP_STATUSES = (Task.Status.TODO, Task.Status.PROGRESS)
NEXT_STEP_REASONS = {Task.Status.TODO: "ready", Task.Status.PROGRESS: "in_progress"}
# `workstream__priority` of `NEXT_STEPS_ORDERING`, read from the task's copy of it (the same value, `Task`).
_WITHIN_BUCKET_ORDERING = ("workstream_priority", "order", "key")
# `NEXT_STEPS_ORDERING` over the copies: the order of `NextStepList._ordered`, the same values.
_ORDERED_BY_COPY = ("-decision_boost", "status_rank", "priority_rank", *_WITHIN_BUCKET_ORDERING)
# Up to this many next steps, one sorted query is cheaper than walking the buckets one query each.
NEXT_STEPS_SORT_AT_MOST = 1_000


class NextStepList:
    """The tasks of `next_steps_get`, in its order, read a page at a time at a cost that does not grow with the hub.

    The order's leading keys (decision boost, status, task priority) take 2 x 2 x 4 values, so the list
    is walked as those buckets in turn; within a bucket the order (workstream priority, task order,
    key) is the order of the partial index `task_next_steps_order_idx` (open tasks of active
    workstreams by status, priority, then the task's copy of its workstream's priority, order, key),
    which PostgreSQL reads a page at a time, stopping once the page is full (ADR 003). Sorting the whole
    candidate set instead costs in proportion to every open task of every active workstream.
    Buckets read task ids only; the page's tasks are loaded by primary key afterwards with their
    workstream, repo and domain. A short list (a filter to one repo or workstream) is read with one
    sorted query of ids instead, over the same copies.
    Each task carries the annotations `next_steps_get` gives it (`reason`, `decision_boost`,
    `status_rank`, `priority_rank`). Usable as a paginator's object list (`count()`, slicing) and,
    through `after`, for keyset pages.
    """

    model = Task  # what the items are, for schema generation and other introspection

    def __init__(self, *, repo: str | None = None, workstream: str | None = None, domain: str | None = None) -> None:
        # The task's copy of its workstream's status: the condition of the index the buckets are read from.
        filters = Q(status__in=NEXT_STEP_STATUSES, workstream_status=Workstream.Status.ACTIVE)
        if repo:
            filters &= Q(workstream__repo__slug=repo)
        if workstream:
            filters &= Q(workstream__key=workstream)
        if domain:
            filters &= Q(workstream__repo__domain__slug=domain)
        if repo or workstream or domain:
            # The same condition as the copy, said of the workstream the filter joins anyway: PostgreSQL
            # then reads the tasks of the filter's active workstreams only (a domain: 6 ms, not 35).
            filters &= Q(workstream__status=Workstream.Status.ACTIVE)
        self._filters = filters
        self._arguments = {"repo": repo, "workstream": workstream, "domain": domain}
        self._boosted: list[uuid.UUID] | None = None
        self._count: int | None = None
        self._short: bool | None = None

    def boosted_workstreams(self) -> list[uuid.UUID]:
        """Active workstreams with a decision resolved in the last 7 days (the only ones whose tasks are next)."""
        if self._boosted is None:
            self._boosted = list(
                Decision.objects.filter(
                    status=Decision.Status.RESOLVED,
                    resolved_at__gte=timezone.now() - DECISION_BOOST_WINDOW,
                    workstream__status=Workstream.Status.ACTIVE,
                )
                .order_by()  # not by key (the model's order), which DISTINCT would then count in
                .values_list("workstream_id", flat=True)
                .distinct()
            )
        return self._boosted

    def buckets(self) -> list[tuple[bool, str, str]]:
        """(boosted, status, priority) in list order; boosted buckets only when a workstream is boosted."""
        boosts = (True, False) if self.boosted_workstreams() else (False,)
        return [
            (boost, status, priority)
            for boost in boosts
            for status in NEXT_STEP_STATUSES
            for priority in TASK_PRIORITY_RANK
        ]

    def _bucket_query(self, boost: bool, status: str, priority: str) -> QuerySet[Task]:
        queryset = Task.objects.filter(self._filters, status=status, priority=priority)
        if self.boosted_workstreams():
            boosted = Q(workstream_id__in=self.boosted_workstreams())
            queryset = queryset.filter(boosted if boost else ~boosted)
        return queryset.order_by(*_WITHIN_BUCKET_ORDERING)

    def _ordered(self) -> QuerySet[Any]:
        """Every next task in next-steps order, from the copies and the boosted list (a short list's one query)."""
        boosted = self.boosted_workstreams()
        return (
            Task.objects.filter(self._filters)
            .annotate(
                decision_boost=Case(
                    When(workstream_id__in=boosted, then=Value(True)),
                    default=Value(False),
                )
                if boosted
                else Value(False),
                status_rank=Case(
                    When(status=Task.Status.TODO, then=Value(0)), default=Value(1), output_field=IntegerField()
                ),
                priority_rank=Case(
                    *[When(priority=word, then=Value(rank)) for word, rank in TASK_PRIORITY_RANK.items()],
                    default=Value(len(TASK_PRIORITY_RANK)),
                    output_field=IntegerField(),
                ),
            )
            .order_by(*_ORDERED_BY_COPY)
        )

    def queryset(self) -> QuerySet[Task]:
        """Every next task, in no particular order (for counting)."""
        return Task.objects.filter(self._filters).order_by()

    def count(self) -> int:
        """How many tasks are next, in all buckets: exact up to 10,000, PostgreSQL's estimate above (as every list)."""
        if self._count is None:
            self._count = bounded_count(self.queryset())
        return self._count

    def is_short(self) -> bool:
        """Whether the list is short enough to read with one sorted query (counts at most 1,001 rows)."""
        if self._short is None:
            self._short = self.queryset()[: NEXT_STEPS_SORT_AT_MOST + 1].count() <= NEXT_STEPS_SORT_AT_MOST
        return self._short

    def __len__(self) -> int:
        return self.count()

    @staticmethod
    def _load(found: list[tuple[uuid.UUID, bool]]) -> list[Task]:
        """The tasks of `(id, boosted)` pairs, in that order, with their workstream, repo and domain.

        The order is read as ids alone (from the index); the rows are joined to their workstream,
        repo and domain afterwards, a page of primary keys, instead of before the sort or the walk.
        """
        by_id = Task.objects.select_related("workstream__repo__domain").in_bulk([pk for pk, _ in found])
        tasks = []
        for pk, boost in found:
            task = by_id[pk]
            task.decision_boost = boost  # type: ignore[attr-defined]
            task.status_rank = NEXT_STEP_STATUSES.index(task.status)  # type: ignore[attr-defined]
            task.priority_rank = TASK_PRIORITY_RANK[task.priority]  # type: ignore[attr-defined]
            task.reason = "decision_resolved" if boost else NEXT_STEP_REASONS[task.status]  # type: ignore[attr-defined,index]
            tasks.append(task)
        return tasks

    def __getitem__(self, index: slice) -> list[Task]:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("NextStepList supports contiguous slices only.")
        start, stop, _ = index.indices(self.count())
        if self.is_short():
            return self._load(list(self._ordered().values_list("pk", "decision_boost")[start:stop]))
        found: list[tuple[uuid.UUID, bool]] = []
        position = 0  # where the current bucket starts in the whole list
        for bucket in self.buckets():
            if len(found) >= stop - start:
                break
            queryset = self._bucket_query(*bucket)
            skip = 0
            if not found and start > position:
                # Only a later page counts the buckets it passes over; the first page never does.
                size = queryset.count()
                if start >= position + size:
                    position += size
                    continue
                skip = start - position
            ids = list(queryset.values_list("pk", flat=True)[skip : skip + stop - start - len(found)])
            found += [(pk, bucket[0]) for pk in ids]
            position += skip + len(ids)
        return self._load(found)

    def after(self, values: Sequence[Any] | None, *, limit: int) -> tuple[list[Task], bool]:
        """Up to `limit` tasks after the one whose `NEXT_STEPS_ORDERING` values are `values` (or from the start),
        and whether more follow. `values` are as `hub.keyset.cursor_values` checked them against `next_steps_get`."""
        found: list[tuple[uuid.UUID, bool]] = []
        if self.is_short():
            ordered = self._ordered()
            if values is not None:
                ordered = ordered.filter(keyset_after(_ORDERED_BY_COPY, values))
            found = list(ordered.values_list("pk", "decision_boost")[: limit + 1])
            return self._load(found[:limit]), len(found) > limit
        started = values is None
        for bucket in self.buckets():
            boost, status, priority = bucket
            queryset = self._bucket_query(*bucket)
            if not started:
                assert values is not None
                position = (not values[0], values[1], values[2])
                here = (not boost, NEXT_STEP_STATUSES.index(status), TASK_PRIORITY_RANK[priority])
                if here < position:
                    continue
                if here == position:
                    queryset = queryset.filter(keyset_after(_WITHIN_BUCKET_ORDERING, list(values[3:])))
                started = True
            ids = list(queryset.values_list("pk", flat=True)[: limit + 1 - len(found)])
            found += [(pk, boost) for pk in ids]
            if len(found) > limit:
                break
        return self._load(found[:limit]), len(found) > limit


def object_history(instance: models.Model) -> QuerySet[Any]:
    """The history rows of a tracked object (`hub.history`), newest first, with their users."""
    rows: QuerySet[Any] = instance.history.select_related("history_user")  # type: ignore[attr-defined]
    return rows.order_by("-history_date", "-history_id")


def history_row_before(row: Any) -> Any | None:
    """The history row of the same object just before this one, or None for its first."""
    earlier = (
        type(row)
        ._default_manager.filter(id=row.id)
        .filter(Q(history_date__lt=row.history_date) | Q(history_date=row.history_date, history_id__lt=row.history_id))
    )
    return earlier.order_by("-history_date", "-history_id").first()
