"""The MCP tools: thin, typed wrappers over the hub's selectors and services (DESIGN §9).

Each function is synchronous ORM code; `hub.mcp.server` runs it off the event loop and turns
`ServiceError` (of any app) into an MCP tool error. The parameter annotations and docstrings become the tool
schemas agents read, so they say exactly what to pass.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

import pydantic_core
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from pydantic import Field

from hub import access, selectors, services
from hub.errors import ValidationFailed
from hub.keyset import cursor_after, cursor_values, keyset_window
from hub.mcp.identity import require_write_access
from hub.mcp.render import (
    DecisionList,
    DecisionOut,
    NextSteps,
    ProgressEventOut,
    ProgressList,
    TaskList,
    WorkstreamDetail,
    WorkstreamList,
    decision_out,
    next_step_out,
    progress_event_out,
    task_out,
    workstream_out,
)
from hub.models import Decision, ProgressEvent, Repo, Task, Workstream
from hub.reconcile import reconcile_repo
from hub.transitions import normalize_status
from statehub.pagination import bounded_count

RECENT_PROGRESS_MAX = 500
LIST_LIMIT_MAX = 200
# An answer is cut short (has_more, next_cursor) rather than grow past this many bytes of JSON: an
# agent's context has room for a page, not for the whole hub.
ANSWER_MAX_BYTES = 64 * 1024

RepoSlug = Annotated[str | None, Field(description="Only this repo (its slug, e.g. 'state-hub').")]
WorkstreamId = Annotated[str, Field(description="The workstream's key (workplan id, e.g. 'CUST-WP-0040') or UUID.")]
Cursor = Annotated[
    str | None,
    Field(description="Where to continue: the next_cursor of the previous answer (omit for the first page)."),
]


ListLimit = Annotated[
    int, Field(ge=1, le=LIST_LIMIT_MAX, description=f"Items per answer, 1 to {LIST_LIMIT_MAX} (default 50).")
]
NextStepsLimit = Annotated[
    int, Field(ge=1, le=LIST_LIMIT_MAX, description=f"Items per answer, 1 to {LIST_LIMIT_MAX} (default 20).")
]

R = TypeVar("R")

# An answer's `total` is exact up to this many matches and PostgreSQL's planner estimate above:
# counting 80,000 open tasks exactly would cost more than the page an agent asked for.
TOTAL_EXACT_LIMIT = 1_000


def _total(queryset: QuerySet[Any]) -> int:
    return bounded_count(queryset, exact_limit=TOTAL_EXACT_LIMIT)


def _page(
    rows: list[Any], has_more: bool, *, ordering: Sequence[str], render: Callable[[Any], R]
) -> tuple[list[R], bool, str | None]:
    """Render one keyset page; stop early, with a cursor, before the answer passes 64 KB."""
    items: list[R] = []
    size = 0
    for row in rows:
        item = render(row)
        # Measured as the SDK's indented text copy of the answer (the larger of the two forms it sends),
        # encoded the way the SDK encodes it.
        text = pydantic_core.to_json(item, fallback=str, indent=2)
        size += len(text) + 4 * (text.count(b"\n") + 1) + 2
        if items and size > ANSWER_MAX_BYTES - 1024:  # room for the envelope around the items
            has_more = True
            break
        items.append(item)
    shown = rows[: len(items)]
    next_cursor = cursor_after(shown[-1], ordering) if has_more and shown else None
    return items, has_more, next_cursor


def get_next_steps(
    repo: RepoSlug = None,
    workstream: Annotated[
        str | None, Field(description="Only tasks of this workstream (its key, e.g. 'CUST-WP-0040').")
    ] = None,
    domain: Annotated[str | None, Field(description="Only tasks of repos in this domain (its slug).")] = None,
    limit: NextStepsLimit = 20,
    cursor: Cursor = None,
) -> NextSteps:
    """What to work on next: open tasks (todo, then progress; never wait) of active workstreams.

    Tasks of workstreams with a decision resolved in the last 7 days come first. Each item gives
    the task key, title, status, priority, workstream key, repo slug and the reason it is next
    (`decision_resolved`, `ready` or `in_progress`).

    Paged: at most `limit` items per answer (default 20, up to 200) and never more than 64 KB;
    `total` counts every match (exactly up to 1,000, PostgreSQL's estimate above), `has_more` says
    whether more follow, and `next_cursor`, passed back as `cursor`, gives the next page.
    """
    steps = selectors.NextStepList(repo=repo, workstream=workstream, domain=domain)
    ordering = selectors.NEXT_STEPS_ORDERING
    values = cursor_values(cursor, ordering, queryset=selectors.next_steps_get()) if cursor else None
    rows, has_more = steps.after(values, limit=limit)
    items, has_more, next_cursor = _page(rows, has_more, ordering=ordering, render=next_step_out)
    return NextSteps(
        count=len(items), total=_total(steps.queryset()), has_more=has_more, next_cursor=next_cursor, items=items
    )


def list_workstreams(
    repo: RepoSlug = None,
    status: Annotated[
        str | None,
        Field(description="Only this status: proposed, ready, active, blocked, backlog, completed, archived."),
    ] = None,
    limit: ListLimit = 50,
    cursor: Cursor = None,
) -> WorkstreamList:
    """Workstreams (workplans), by priority then key, each with its repo, domain and task counts.

    Paged: at most `limit` items per answer (default 50, up to 200) and never more than 64 KB;
    `total` counts every match (exactly up to 1,000, PostgreSQL's estimate above), `has_more` says
    whether more follow, and `next_cursor`, passed back as `cursor`, gives the next page.
    """
    status = normalize_status(Workstream, status) if status else None
    queryset = selectors.workstream_list(repo=repo, status=status)
    ordering = selectors.WORKSTREAM_LIST_ORDERING
    rows, has_more = keyset_window(queryset, ordering=ordering, limit=limit, cursor=cursor)
    selectors.workstream_task_counts_attach(workstreams=rows)
    workstreams, has_more, next_cursor = _page(rows, has_more, ordering=ordering, render=workstream_out)
    return WorkstreamList(
        count=len(workstreams),
        total=_total(queryset),
        has_more=has_more,
        next_cursor=next_cursor,
        workstreams=workstreams,
    )


def get_workstream(workstream_id: WorkstreamId) -> WorkstreamDetail:
    """One workstream with all its tasks (in file order) and its open or escalated decisions."""
    workstream = selectors.get_by_key_or_id(Workstream, workstream_id, queryset=selectors.workstream_list())
    selectors.workstream_task_counts_attach(workstreams=[workstream])
    tasks = Task.objects.filter(workstream=workstream).select_related("workstream").order_by("order", "key")
    decisions = selectors.decision_pending_list().filter(workstream=workstream)
    return WorkstreamDetail(
        **workstream_out(workstream),
        tasks=[task_out(task) for task in tasks],
        open_decisions=[decision_out(decision) for decision in decisions],
    )


def list_tasks(
    workstream_id: WorkstreamId,
    status: Annotated[
        str | None, Field(description="Only tasks in this status: wait, todo, progress, done, cancel.")
    ] = None,
    limit: ListLimit = 50,
    cursor: Cursor = None,
) -> TaskList:
    """The tasks of one workstream, in file order.

    Paged: at most `limit` items per answer (default 50, up to 200) and never more than 64 KB;
    `total` counts every match (exactly up to 1,000, PostgreSQL's estimate above), `has_more` says
    whether more follow, and `next_cursor`, passed back as `cursor`, gives the next page.
    """
    workstream = selectors.get_by_key_or_id(Workstream, workstream_id)
    tasks = Task.objects.filter(workstream=workstream).select_related("workstream")
    if status:
        tasks = tasks.filter(status=normalize_status(Task, status))
    ordering = selectors.TASK_LIST_ORDERING
    rows, has_more = keyset_window(tasks, ordering=ordering, limit=limit, cursor=cursor)
    items, has_more, next_cursor = _page(rows, has_more, ordering=ordering, render=task_out)
    return TaskList(
        workstream=workstream.key,
        count=len(items),
        total=_total(tasks),
        has_more=has_more,
        next_cursor=next_cursor,
        tasks=items,
    )


def list_pending_decisions(limit: ListLimit = 50, cursor: Cursor = None) -> DecisionList:
    """Decisions waiting for an answer (open or escalated), oldest first, with their options.

    Paged: at most `limit` items per answer (default 50, up to 200) and never more than 64 KB;
    `total` counts every match (exactly up to 1,000, PostgreSQL's estimate above), `has_more` says
    whether more follow, and `next_cursor`, passed back as `cursor`, gives the next page.
    """
    queryset = selectors.decision_pending_list()
    ordering = selectors.DECISION_PENDING_ORDERING
    rows, has_more = keyset_window(queryset, ordering=ordering, limit=limit, cursor=cursor)
    decisions, has_more, next_cursor = _page(rows, has_more, ordering=ordering, render=decision_out)
    return DecisionList(
        count=len(decisions),
        total=_total(queryset),
        has_more=has_more,
        next_cursor=next_cursor,
        decisions=decisions,
    )


def _parse_since(value: str) -> dt.datetime:
    try:
        moment = parse_datetime(value.strip())
        day = parse_date(value.strip()) if moment is None else None
    except ValueError:  # well-formed but impossible, e.g. 2026-99-99
        moment = day = None
    if moment is None and day is not None:
        moment = dt.datetime.combine(day, dt.time.min)
    if moment is None:
        raise ValidationFailed(
            f"since must be an ISO-8601 date or datetime (e.g. 2026-11-26T21:40:00Z), not {value!r}.", field="since"
        )
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt.UTC)


def get_recent_progress(
    limit: Annotated[
        int, Field(ge=1, le=RECENT_PROGRESS_MAX, description="How many entries at most (newest first).")
    ] = 20,
    since: Annotated[
        str | None,
        Field(
            description="Only entries at or after this ISO-8601 moment, e.g. '2026-11-26T21:40:00Z' (UTC if no zone)."
        ),
    ] = None,
    cursor: Cursor = None,
) -> ProgressList:
    """The newest entries of the progress log (notes, milestones, blockers, insights), newest first.

    Paged: at most `limit` items per answer (default 20, up to 500) and never more than 64 KB;
    `total` counts every match (exactly up to 1,000, PostgreSQL's estimate above), `has_more` says
    whether more follow, and `next_cursor`, passed back as `cursor`, gives the next page.
    """
    queryset = selectors.progress_recent_list(since=_parse_since(since) if since else None)
    ordering = selectors.PROGRESS_RECENT_ORDERING
    rows, has_more = keyset_window(queryset, ordering=ordering, limit=limit, cursor=cursor)
    items, has_more, next_cursor = _page(rows, has_more, ordering=ordering, render=progress_event_out)
    return ProgressList(
        count=len(items), total=_total(queryset), has_more=has_more, next_cursor=next_cursor, events=items
    )


def check_repo_consistency(
    repo_slug: Annotated[str, Field(description="The repo's slug (or UUID) whose workplan files to compare.")],
) -> dict[str, Any]:
    """Compare a repo's workplan files with the hub's records and report its drift; changes nothing.

    Counts are whole; at most 20 findings are listed, with `truncated` and `full_report` (the command
    that prints them all) when there are more.
    """
    repo = selectors.get_by_key_or_id(Repo, repo_slug)
    report: dict[str, Any] = reconcile_repo(repo=repo, fix=False).as_dict(bounded=True)
    return report


def resolve_decision(
    decision_id: Annotated[str, Field(description="The decision's key (e.g. 'DEC-0012') or UUID.")],
    rationale: Annotated[str, Field(min_length=1, description="Why this was decided; recorded with the decision.")],
    decided_by: Annotated[
        str | None,
        Field(description="Who decided; defaults to the user this server acts as."),
    ] = None,
    chosen_option: Annotated[
        str | None, Field(description="The chosen option; must be exactly one of the decision's options.")
    ] = None,
) -> DecisionOut:
    """Resolve an open or escalated decision.

    Records the resolution, appends a milestone to the progress log and publishes
    `org.statehub.decision.resolved`. A decision that is already resolved or superseded is refused.
    """
    decision = selectors.get_by_key_or_id(
        Decision, decision_id, queryset=Decision.objects.select_related("repo", "workstream__repo")
    )
    actor = require_write_access("resolve_decision", Decision, access.domains_of(decision))
    decision = services.decision_resolve(
        decision=decision, rationale=rationale, decided_by=decided_by or actor, chosen_option=chosen_option
    )
    return decision_out(decision)


def add_progress_event(
    summary: Annotated[str, Field(min_length=1, max_length=500, description="One line saying what happened.")],
    event_type: Annotated[
        Literal["note", "milestone", "blocker", "insight"], Field(description="What kind of entry this is.")
    ],
    workstream_id: Annotated[
        str | None, Field(description="The workstream it concerns: key (e.g. 'CUST-WP-0040') or UUID.")
    ] = None,
    task_id: Annotated[
        str | None,
        Field(description="The task it concerns: key (e.g. 'CUST-WP-0040-T05') or UUID; implies its workstream."),
    ] = None,
    detail: Annotated[str | None, Field(description="Longer free text.")] = None,
) -> ProgressEventOut:
    """Append an entry to the progress log, authored by the user this server acts as."""
    workstream = (
        selectors.get_by_key_or_id(Workstream, workstream_id, queryset=Workstream.objects.select_related("repo"))
        if workstream_id
        else None
    )
    task = (
        selectors.get_by_key_or_id(Task, task_id, queryset=Task.objects.select_related("workstream__repo"))
        if task_id
        else None
    )
    domains = access.domains_after(ProgressEvent, {"workstream": workstream, "task": task})
    author = require_write_access("add_progress_event", ProgressEvent, domains)
    event = services.progress_event_add(
        summary=summary, event_type=event_type, detail=detail or "", workstream=workstream, task=task, author=author
    )
    event = ProgressEvent.objects.select_related("workstream", "task").get(pk=event.pk)
    return progress_event_out(event)


READ_TOOLS: list[Callable[..., Any]] = [
    get_next_steps,
    list_workstreams,
    get_workstream,
    list_tasks,
    list_pending_decisions,
    get_recent_progress,
    check_repo_consistency,
]
WRITE_TOOLS: list[Callable[..., Any]] = [resolve_decision, add_progress_event]
