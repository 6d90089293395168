"""Plain JSON-ready dicts of hub objects, as MCP tools return them (relations named by key, plus ids)."""

import datetime as dt
from typing import Any

from hub.models import Decision, ProgressEvent, Task, Workstream


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def workstream_dict(workstream: Workstream) -> dict[str, Any]:
    """A workstream with its repo, domain and goal keys, and task counts when the query annotated them."""
    repo = workstream.repo
    data: dict[str, Any] = {
        "id": str(workstream.id),
        "key": workstream.key,
        "title": workstream.title,
        "status": workstream.status,
        "priority": workstream.priority,
        "owner": workstream.owner,
        "repo": repo.slug,
        "domain": repo.domain.slug if repo.domain else None,
        "domain_goal": workstream.domain_goal.key if workstream.domain_goal else None,
        "completed_at": _when(workstream.completed_at),
        "source_path": workstream.source_path,
        "updated_at": _when(workstream.updated_at),
    }
    if hasattr(workstream, "tasks_total"):
        # Annotated by `selectors.workstream_list`.
        data["task_counts"] = {name: getattr(workstream, f"tasks_{name}") for name in ("total", "open", "done")}
    return data


def task_dict(task: Task) -> dict[str, Any]:
    """A task of a workstream."""
    return {
        "id": str(task.id),
        "key": task.key,
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "order": task.order,
        "assignee": task.assignee,
        "blocking_reason": task.blocking_reason,
        "workstream": task.workstream.key,
        "last_activity_at": _when(task.last_activity_at),
        "missing_from_workplan_at": _when(task.missing_from_workplan_at),
    }


def next_step_dict(task: Task) -> dict[str, Any]:
    """One item of the next-steps list: the task, where it lives, and why it is next."""
    workstream = task.workstream
    repo = workstream.repo
    return {
        "task": task.key,
        "task_id": str(task.id),
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "assignee": task.assignee,
        "workstream": workstream.key,
        "workstream_title": workstream.title,
        "workstream_priority": workstream.priority,
        "repo": repo.slug,
        "domain": repo.domain.slug if repo.domain else None,
        "reason": task.reason,  # type: ignore[attr-defined]  # annotated by next_steps_get
    }


def decision_dict(decision: Decision) -> dict[str, Any]:
    """A decision with its options and, once resolved, the choice and who made it."""
    return {
        "id": str(decision.id),
        "key": decision.key,
        "title": decision.title,
        "question": decision.question,
        "options": list(decision.options),
        "status": decision.status,
        "repo": decision.repo.slug if decision.repo else None,
        "workstream": decision.workstream.key if decision.workstream else None,
        "rationale": decision.rationale,
        "chosen_option": decision.chosen_option or None,
        "decided_by": decision.decided_by,
        "resolved_at": _when(decision.resolved_at),
        "created_at": _when(decision.created_at),
    }


def progress_event_dict(event: ProgressEvent) -> dict[str, Any]:
    """An entry of the progress log."""
    return {
        "id": str(event.id),
        "event_type": event.event_type,
        "summary": event.summary,
        "detail": event.detail,
        "workstream": event.workstream.key if event.workstream else None,
        "task": event.task.key if event.task else None,
        "author": event.author,
        "created_at": _when(event.created_at),
    }
