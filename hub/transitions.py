"""The status gate: every model's allowed status moves and older status words, in one table keyed by model.

The table is written in each model's `Status` enum, so a misspelt model or status is a mypy error
and fails at import. `status_change(instance, raw)` is how every update service (behind the API,
the admin and the workplan sync) takes a status from input: it maps older words, refuses unknown
ones and checks the table; the reconciliation asks it too before it plans a move. The actions that
move to one fixed status (activating a goal, resolving a decision, which is also the MCP tools'
one status change, and canceling a stale task) call `check_transition`. `normalize_status` maps a
word where nothing moves: creating an object (it may start in any status) and filtering a list.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import models

from hub.errors import InvalidTransition, ValidationFailed
from hub.models import (
    Decision,
    DecisionStatus,
    Domain,
    DomainGoal,
    DomainGoalStatus,
    DomainStatus,
    Repo,
    RepoStatus,
    Task,
    TaskStatus,
    Workstream,
    WorkstreamStatus,
)

S = TypeVar("S", bound=models.TextChoices)


@dataclass(frozen=True)
class StatusRules(Generic[S]):
    """One model's statuses (its `Status` enum): the moves allowed from each, and the older words for some."""

    enum: type[S]
    moves: Mapping[S, frozenset[S]]
    older_words: Mapping[str, S] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked at import: every status has its row, and every status named is one of this enum's.
        named = {*self.moves, *(s for targets in self.moves.values() for s in targets), *self.older_words.values()}
        strangers = sorted(repr(status) for status in named if not isinstance(status, self.enum))
        if strangers:
            raise TypeError(f"{self.enum.__qualname__}: not its statuses: {', '.join(strangers)}")
        missing = [status.value for status in self.enum if status not in self.moves]
        if missing:
            raise TypeError(f"{self.enum.__qualname__}: no moves listed for {', '.join(missing)}")

    @property
    def statuses(self) -> list[str]:
        """Every status, in the enum's order (the order forms offer them in)."""
        return [str(status) for status in self.enum]


def _both_ways(first: S, second: S) -> dict[S, frozenset[S]]:
    return {first: frozenset({second}), second: frozenset({first})}


def _task_moves() -> dict[TaskStatus, frozenset[TaskStatus]]:
    """Any move among the open statuses; any open one to done or cancel; done reopens; cancel is final."""
    closing = frozenset({TaskStatus.DONE, TaskStatus.CANCEL})
    moves = {status: frozenset(Task.OPEN_STATUSES) - {status} | closing for status in Task.OPEN_STATUSES}
    return {**moves, TaskStatus.DONE: frozenset({TaskStatus.TODO}), TaskStatus.CANCEL: frozenset()}


TRANSITIONS: dict[type[models.Model], StatusRules[Any]] = {
    Domain: StatusRules(DomainStatus, _both_ways(DomainStatus.ACTIVE, DomainStatus.ARCHIVED)),
    Repo: StatusRules(RepoStatus, _both_ways(RepoStatus.ACTIVE, RepoStatus.ARCHIVED)),
    DomainGoal: StatusRules(
        DomainGoalStatus,
        {
            DomainGoalStatus.PROPOSED: frozenset({DomainGoalStatus.ACTIVE, DomainGoalStatus.ARCHIVED}),
            DomainGoalStatus.ACTIVE: frozenset(
                {DomainGoalStatus.SUPERSEDED, DomainGoalStatus.ACHIEVED, DomainGoalStatus.ARCHIVED}
            ),
            DomainGoalStatus.SUPERSEDED: frozenset(),
            DomainGoalStatus.ACHIEVED: frozenset(),
            DomainGoalStatus.ARCHIVED: frozenset(),
        },
    ),
    Workstream: StatusRules(
        WorkstreamStatus,
        {
            WorkstreamStatus.PROPOSED: frozenset(
                {WorkstreamStatus.READY, WorkstreamStatus.ACTIVE, WorkstreamStatus.BACKLOG, WorkstreamStatus.ARCHIVED}
            ),
            WorkstreamStatus.READY: frozenset(
                {WorkstreamStatus.ACTIVE, WorkstreamStatus.BACKLOG, WorkstreamStatus.ARCHIVED}
            ),
            WorkstreamStatus.ACTIVE: frozenset(
                {
                    WorkstreamStatus.BLOCKED,
                    WorkstreamStatus.BACKLOG,
                    WorkstreamStatus.COMPLETED,
                    WorkstreamStatus.ARCHIVED,
                }
            ),
            WorkstreamStatus.BLOCKED: frozenset(
                {WorkstreamStatus.ACTIVE, WorkstreamStatus.BACKLOG, WorkstreamStatus.ARCHIVED}
            ),
            WorkstreamStatus.BACKLOG: frozenset(
                {WorkstreamStatus.READY, WorkstreamStatus.ACTIVE, WorkstreamStatus.ARCHIVED}
            ),
            WorkstreamStatus.COMPLETED: frozenset({WorkstreamStatus.ARCHIVED}),
            WorkstreamStatus.ARCHIVED: frozenset(),
        },
        # Older words found in existing workplan files and clients (DESIGN §4).
        older_words={"finished": WorkstreamStatus.COMPLETED, "done": WorkstreamStatus.COMPLETED},
    ),
    Task: StatusRules(
        TaskStatus,
        _task_moves(),
        older_words={
            "in_progress": TaskStatus.PROGRESS,
            "blocked": TaskStatus.WAIT,
            "cancelled": TaskStatus.CANCEL,
            "canceled": TaskStatus.CANCEL,
        },
    ),
    Decision: StatusRules(
        DecisionStatus,
        {
            DecisionStatus.OPEN: frozenset(
                {DecisionStatus.ESCALATED, DecisionStatus.RESOLVED, DecisionStatus.SUPERSEDED}
            ),
            DecisionStatus.ESCALATED: frozenset({DecisionStatus.RESOLVED, DecisionStatus.SUPERSEDED}),
            DecisionStatus.RESOLVED: frozenset(),
            DecisionStatus.SUPERSEDED: frozenset(),
        },
    ),
}


def rules_for(model: type[models.Model]) -> StatusRules[Any]:
    """The table's entry for `model` (KeyError for a model without statuses, a programming error)."""
    return TRANSITIONS[model]


def _name(model: type[models.Model]) -> str:
    return str(model._meta.verbose_name)


def normalize_status(model: type[models.Model], raw: object) -> str:
    """The `model`'s status that `raw` names, mapping older words; ValidationFailed for anything else."""
    rules = rules_for(model)
    if not isinstance(raw, str):
        raise ValidationFailed(f"Status must be a string, not {type(raw).__name__}.", field="status")
    word = raw.strip().lower()
    status = rules.older_words.get(word, word)
    if status not in rules.moves:
        allowed = ", ".join(sorted(rules.statuses))
        raise ValidationFailed(f'"{raw}" is not a {_name(model)} status (one of: {allowed}).', field="status")
    return str(status)  # the plain word, as the model's field holds it


def check_transition(model: type[models.Model], current: str, target: str) -> None:
    """Raise InvalidTransition unless the table allows `current` → `target` (staying put is not a move)."""
    moves = rules_for(model).moves
    allowed = moves.get(current, frozenset())
    if target not in allowed:
        listed = ", ".join(sorted(str(status) for status in allowed)) or "none"
        raise InvalidTransition(
            f"A {_name(model)} cannot go from '{current}' to '{target}' (allowed from '{current}': {listed}).",
            field="status",
        )


def status_change(instance: models.Model, raw: object) -> str:
    """The status `instance` may take for the input `raw`: normalised, and checked when it differs from the current one.

    Raises ValidationFailed for a word that is no status of the model and InvalidTransition for a
    move the table forbids; setting the current status again is not a transition. Pure: no query.
    """
    model = type(instance)
    target = normalize_status(model, raw)
    current: str = instance.status  # type: ignore[attr-defined]
    if target != current:
        check_transition(model, current, target)
    return target


def offered_statuses(model: type[models.Model], current: str) -> list[str]:
    """What a form offers an object of `model` in `current`: staying put, or a move the table allows, in enum order."""
    rules = rules_for(model)
    allowed = rules.moves.get(current, frozenset()) | {current}
    return [status for status in rules.statuses if status in allowed]
