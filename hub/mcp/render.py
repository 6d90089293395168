"""JSON-ready shapes of hub objects as MCP tools return them (relations named by key, plus ids).

The TypedDicts become the tools' output schemas, so an agent knows every field it gets back.
"""

import datetime as dt
from typing import NotRequired

from typing_extensions import TypedDict  # pydantic reads only typing_extensions' TypedDict on Python < 3.12

from hub.models import Decision, ProgressEvent, Task, Workstream


class TaskCounts(TypedDict):
    """How many tasks a workstream has: all, open (wait/todo/progress), and in each status (zero included)."""

    total: int
    open: int
    wait: int
    todo: int
    progress: int
    done: int
    cancel: int


class WorkstreamOut(TypedDict):
    """A workstream (workplan): key is the workplan id; repo, domain and domain_goal are keys."""

    id: str
    key: str
    title: str
    status: str
    priority: int
    owner: str
    repo: str
    domain: str | None
    domain_goal: str | None
    completed_at: str | None
    source_path: str
    updated_at: str | None
    task_counts: NotRequired[TaskCounts]


class TaskOut(TypedDict):
    """A task of a workstream (key is the task id, workstream the workplan id)."""

    id: str
    key: str
    title: str
    status: str
    priority: str
    order: int
    assignee: str
    blocking_reason: str
    workstream: str
    last_activity_at: str | None
    missing_from_workplan_at: str | None


class DecisionOut(TypedDict):
    """A decision, its options and, once resolved, the choice, rationale and who decided."""

    id: str
    key: str
    title: str
    question: str
    options: list[str]
    status: str
    repo: str | None
    workstream: str | None
    rationale: str
    chosen_option: str | None
    decided_by: str
    resolved_at: str | None
    created_at: str | None


class WorkstreamDetail(WorkstreamOut):
    """A workstream with all its tasks (file order) and its open or escalated decisions."""

    tasks: list[TaskOut]
    open_decisions: list[DecisionOut]


class NextStep(TypedDict):
    """One task to work on next; reason is decision_resolved, ready or in_progress."""

    task: str
    task_id: str
    title: str
    status: str
    priority: str
    assignee: str
    workstream: str
    workstream_title: str
    workstream_priority: int
    repo: str
    domain: str | None
    reason: str


class ProgressEventOut(TypedDict):
    """An entry of the progress log; workstream and task are keys."""

    id: str
    event_type: str
    summary: str
    detail: str
    workstream: str | None
    task: str | None
    author: str
    created_at: str | None


class NextSteps(TypedDict):
    """One page of next steps: count items here, total overall; next_cursor fetches the following page."""

    count: int
    total: int
    has_more: bool
    next_cursor: str | None
    items: list[NextStep]


class WorkstreamList(TypedDict):
    """One page of workstreams: count here, total overall; next_cursor fetches the following page."""

    count: int
    total: int
    has_more: bool
    next_cursor: str | None
    workstreams: list[WorkstreamOut]


class TaskList(TypedDict):
    """One page of a workstream's tasks: count here, total overall; next_cursor fetches the following page."""

    workstream: str
    count: int
    total: int
    has_more: bool
    next_cursor: str | None
    tasks: list[TaskOut]


class DecisionList(TypedDict):
    """One page of pending decisions: count here, total overall; next_cursor fetches the following page."""

    count: int
    total: int
    has_more: bool
    next_cursor: str | None
    decisions: list[DecisionOut]


class ProgressList(TypedDict):
    """One page of the progress log: count here, total overall; next_cursor fetches the following page."""

    count: int
    total: int
    has_more: bool
    next_cursor: str | None
    events: list[ProgressEventOut]


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def workstream_out(workstream: Workstream) -> WorkstreamOut:
    """A workstream, with task counts when they were attached (`selectors.workstream_task_counts_attach`)."""
    repo = workstream.repo
    data = WorkstreamOut(
        id=str(workstream.id),
        key=workstream.key,
        title=workstream.title,
        status=workstream.status,
        priority=workstream.priority,
        owner=workstream.owner,
        repo=repo.slug,
        domain=repo.domain.slug if repo.domain else None,
        domain_goal=workstream.domain_goal.key if workstream.domain_goal else None,
        completed_at=_when(workstream.completed_at),
        source_path=workstream.source_path,
        updated_at=_when(workstream.updated_at),
    )
    counts = getattr(workstream, "task_counts", None)  # attached, not a field the model type declares
    if counts is not None:
        data["task_counts"] = counts
    return data


def task_out(task: Task) -> TaskOut:
    """A task of a workstream."""
    return TaskOut(
        id=str(task.id),
        key=task.key,
        title=task.title,
        status=task.status,
        priority=task.priority,
        order=task.order,
        assignee=task.assignee,
        blocking_reason=task.blocking_reason,
        workstream=task.workstream.key,
        last_activity_at=_when(task.last_activity_at),
        missing_from_workplan_at=_when(task.missing_from_workplan_at),
    )


def next_step_out(task: Task) -> NextStep:
    """One item of the next-steps list: the task, where it lives, and why it is next."""
    workstream = task.workstream
    repo = workstream.repo
    return NextStep(
        task=task.key,
        task_id=str(task.id),
        title=task.title,
        status=task.status,
        priority=task.priority,
        assignee=task.assignee,
        workstream=workstream.key,
        workstream_title=workstream.title,
        workstream_priority=workstream.priority,
        repo=repo.slug,
        domain=repo.domain.slug if repo.domain else None,
        reason=getattr(task, "reason"),  # noqa: B009  (annotated by `selectors.next_steps_get`)
    )


def decision_out(decision: Decision) -> DecisionOut:
    """A decision with its options and, once resolved, the choice and who made it."""
    return DecisionOut(
        id=str(decision.id),
        key=decision.key,
        title=decision.title,
        question=decision.question,
        options=list(decision.options),
        status=decision.status,
        repo=decision.repo.slug if decision.repo else None,
        workstream=decision.workstream.key if decision.workstream else None,
        rationale=decision.rationale,
        chosen_option=decision.chosen_option or None,
        decided_by=decision.decided_by,
        resolved_at=_when(decision.resolved_at),
        created_at=_when(decision.created_at),
    )


def progress_event_out(event: ProgressEvent) -> ProgressEventOut:
    """An entry of the progress log."""
    return ProgressEventOut(
        id=str(event.id),
        event_type=event.event_type,
        summary=event.summary,
        detail=event.detail,
        workstream=event.workstream.key if event.workstream else None,
        task=event.task.key if event.task else None,
        author=event.author,
        created_at=_when(event.created_at),
    )
