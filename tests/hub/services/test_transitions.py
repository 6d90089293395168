"""Every allowed status transition succeeds through its service; every other one raises InvalidTransition.

The expected table is written out here from DESIGN §4, independently of `hub/transitions.py`.
"""

import itertools
from typing import Any

import pytest
from django.db.models import Model

from events.models import OutboxEvent
from hub import services, transitions
from hub.errors import InvalidTransition
from hub.models import Decision, Domain, DomainGoal, Repo, Task, Workstream
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    RepoFactory,
    TaskFactory,
    WorkstreamFactory,
)

pytestmark = pytest.mark.django_db

OPEN = ["wait", "todo", "progress"]
EXPECTED: dict[type[Model], set[tuple[str, str]]] = {
    Domain: {("active", "archived"), ("archived", "active")},
    Repo: {("active", "archived"), ("archived", "active")},
    DomainGoal: {
        ("proposed", "active"),
        ("proposed", "archived"),
        ("active", "superseded"),
        ("active", "achieved"),
        ("active", "archived"),
    },
    Workstream: {
        *[("proposed", s) for s in ["ready", "active", "backlog", "archived"]],
        *[("ready", s) for s in ["active", "backlog", "archived"]],
        *[("active", s) for s in ["blocked", "backlog", "completed", "archived"]],
        *[("blocked", s) for s in ["active", "backlog", "archived"]],
        *[("backlog", s) for s in ["ready", "active", "archived"]],
        ("completed", "archived"),
    },
    Task: {
        *[(a, b) for a in OPEN for b in OPEN if a != b],
        *[(a, b) for a in OPEN for b in ["done", "cancel"]],
        ("done", "todo"),
    },
    Decision: {
        ("open", "escalated"),
        ("open", "resolved"),
        ("open", "superseded"),
        ("escalated", "resolved"),
        ("escalated", "superseded"),
    },
}
STATUSES: dict[type[Model], list[str]] = {
    Domain: ["active", "archived"],
    Repo: ["active", "archived"],
    DomainGoal: ["proposed", "active", "superseded", "achieved", "archived"],
    Workstream: ["proposed", "ready", "active", "blocked", "backlog", "completed", "archived"],
    Task: ["wait", "todo", "progress", "done", "cancel"],
    Decision: ["open", "escalated", "resolved", "superseded"],
}


def _apply(model: type[Model], current: str, target: str) -> Any:
    """Create an object of `model` in `current` and ask its service to move it to `target`."""
    change = {"status": target}
    if model is Domain:
        return services.domain_update(domain=DomainFactory.create(status=current), data=change)
    if model is Repo:
        return services.repo_update(repo=RepoFactory.create(status=current), data=change)
    if model is DomainGoal:
        return services.domain_goal_update(goal=DomainGoalFactory.create(status=current), data=change)
    if model is Workstream:
        return services.workstream_update(workstream=WorkstreamFactory.create(status=current), data=change)
    if model is Task:
        return services.task_update(task=TaskFactory.create(status=current), data=change)
    resolution = {"rationale": "because"} if target == "resolved" else {}
    decision = DecisionFactory.create(status=current)
    return services.decision_update(decision=decision, data={**change, **resolution}, actor="tester")


CASES = [
    (model, current, target)
    for model, statuses in STATUSES.items()
    for current, target in itertools.permutations(statuses, 2)
]


@pytest.mark.parametrize(("model", "current", "target"), CASES, ids=[f"{m.__name__}:{a}->{b}" for m, a, b in CASES])
def test_a_status_change_succeeds_exactly_when_the_design_allows_it(model, current, target):
    if (current, target) in EXPECTED[model]:
        result = _apply(model, current, target)
        result.refresh_from_db()
        assert result.status == target
    else:
        with pytest.raises(InvalidTransition):
            _apply(model, current, target)


def test_the_models_statuses_are_the_designs_in_the_designs_order() -> None:
    assert {model: model.Status.values for model in STATUSES} == STATUSES  # type: ignore[attr-defined]


def test_an_illegal_transition_leaves_the_object_and_the_outbox_unchanged():
    workstream = WorkstreamFactory.create(status="completed")
    with pytest.raises(InvalidTransition, match="cannot go from 'completed' to 'proposed'"):
        services.workstream_update(workstream=workstream, data={"status": "proposed", "title": "New"})
    workstream.refresh_from_db()
    assert workstream.status == "completed"
    assert workstream.title != "New"
    assert OutboxEvent.objects.count() == 0


def test_setting_the_same_status_again_is_not_a_transition():
    task = TaskFactory.create(status="cancel")
    services.task_update(task=task, data={"status": "cancel"})
    task.refresh_from_db()
    assert task.status == "cancel"


@pytest.mark.parametrize("model", list(STATUSES), ids=lambda model: model.__name__)
def test_a_form_offers_staying_put_and_exactly_the_allowed_moves_in_the_models_order(model: type[Model]) -> None:
    for current in STATUSES[model]:
        offered = transitions.offered_statuses(model, current)

        assert set(offered) == {current} | {target for source, target in EXPECTED[model] if source == current}
        assert offered == [status for status in STATUSES[model] if status in offered]
