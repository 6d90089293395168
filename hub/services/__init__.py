"""Every write to the hub's state goes through these services (one transaction each)."""

from hub.services.decisions import decision_create, decision_resolve, decision_update, progress_event_add
from hub.services.domains import (
    domain_create,
    domain_goal_activate,
    domain_goal_create,
    domain_goal_update,
    domain_update,
    repo_register,
    repo_update,
)
from hub.services.workstreams import (
    task_counts,
    task_create,
    task_update,
    workstream_create,
    workstream_update,
)

__all__ = [
    "decision_create",
    "decision_resolve",
    "decision_update",
    "domain_create",
    "domain_goal_activate",
    "domain_goal_create",
    "domain_goal_update",
    "domain_update",
    "progress_event_add",
    "repo_register",
    "repo_update",
    "task_counts",
    "task_create",
    "task_update",
    "workstream_create",
    "workstream_update",
]
