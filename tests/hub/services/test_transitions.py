"""Every allowed status transition succeeds through its service; every other one raises InvalidTransition.

The expected table is written out here from DESIGN §4, independently of `hub/transitions.py`.
"""

import itertools
from typing import Any

import pytest

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
EXPECTED = {
    "domain": {("active", "archived"), ("archived", "active")},
    "repo": {("active", "archived"), ("archived", "active")},
    "domain_goal": {
        ("proposed", "active"),
        ("proposed", "archived"),
        ("active", "superseded"),
        ("active", "achieved"),
        ("active", "archived"),
    },
    "workstream": {
        *[("proposed", s) for s in ["ready", "active", "backlog", "archived"]],
        *[("ready", s) for s in ["active", "backlog", "archived"]],
        *[("active", s) for s in ["blocked", "backlog", "completed", "archived"]],
        *[("blocked", s) for s in ["active", "backlog", "archived"]],
        *[("backlog", s) for s in ["ready", "active", "archived"]],
        ("completed", "archived"),
    },
    "task": {
        *[(a, b) for a in OPEN for b in OPEN if a != b],
        *[(a, b) for a in OPEN for b in ["done", "cancel"]],
        ("done", "todo"),
    },
    "decision": {
        ("open", "escalated"),
        ("open", "resolved"),
        ("open", "superseded"),
        ("escalated", "resolved"),
        ("escalated", "superseded"),
    },
}
STATUSES = {
    "domain": Domain.Status.values,
    "repo": Repo.Status.values,
    "domain_goal": DomainGoal.Status.values,
    "workstream": Workstream.Status.values,
    "task": Task.Status.values,
    "decision": Decision.Status.values,
}


def _apply(kind: str, current: str, target: str) -> Any:
    """Create an object of `kind` in `current` and ask its service to move it to `target`."""
    change = {"status": target}
    if kind == "domain":
        return services.domain_update(domain=DomainFactory.create(status=current), data=change)
    if kind == "repo":
        return services.repo_update(repo=RepoFactory.create(status=current), data=change)
    if kind == "domain_goal":
        return services.domain_goal_update(goal=DomainGoalFactory.create(status=current), data=change)
    if kind == "workstream":
        return services.workstream_update(workstream=WorkstreamFactory.create(status=current), data=change)
    if kind == "task":
        return services.task_update(task=TaskFactory.create(status=current), data=change)
    resolution = {"rationale": "because"} if target == "resolved" else {}
    decision = DecisionFactory.create(status=current)
    return services.decision_update(decision=decision, data={**change, **resolution}, actor="tester")


CASES = [
    (kind, current, target)
    for kind, statuses in STATUSES.items()
    for current, target in itertools.permutations(statuses, 2)
]


@pytest.mark.parametrize(("kind", "current", "target"), CASES, ids=[f"{k}:{a}->{b}" for k, a, b in CASES])
def test_a_status_change_succeeds_exactly_when_the_design_allows_it(kind, current, target):
    if (current, target) in EXPECTED[kind]:
        result = _apply(kind, current, target)
        result.refresh_from_db()
        assert result.status == target
    else:
        with pytest.raises(InvalidTransition):
            _apply(kind, current, target)


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


@pytest.mark.parametrize("kind", list(STATUSES))
def test_a_form_offers_staying_put_and_exactly_the_allowed_moves_in_the_models_order(kind: str) -> None:
    for current in STATUSES[kind]:
        offered = transitions.offered_statuses(kind, current)

        assert set(offered) == {current} | {target for source, target in EXPECTED[kind] if source == current}
        assert offered == [status for status in STATUSES[kind] if status in offered]
