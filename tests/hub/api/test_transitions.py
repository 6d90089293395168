"""Every status change the transition table forbids answers 409 with the documented body and changes nothing."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Model
from rest_framework.test import APIClient

from events.models import OutboxEvent
from hub.models import Decision, Domain, DomainGoal, Repo, Task, Workstream
from hub.transitions import TRANSITIONS
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    RepoFactory,
    TaskFactory,
    WorkstreamFactory,
)

pytestmark = pytest.mark.django_db

# model → (factory making an object in a given status, URL of that object)
MODELS: dict[type[Model], tuple[Callable[[str], Any], Callable[[Any], str]]] = {
    Domain: (lambda status: DomainFactory.create(status=status), lambda obj: f"/domains/{obj.slug}/"),
    Repo: (lambda status: RepoFactory.create(status=status), lambda obj: f"/repos/{obj.slug}/"),
    DomainGoal: (lambda status: DomainGoalFactory.create(status=status), lambda obj: f"/domain-goals/{obj.key}/"),
    Workstream: (lambda status: WorkstreamFactory.create(status=status), lambda obj: f"/workstreams/{obj.key}/"),
    Task: (lambda status: TaskFactory.create(status=status), lambda obj: f"/tasks/{obj.key}/"),
    Decision: (lambda status: DecisionFactory.create(status=status), lambda obj: f"/decisions/{obj.key}/"),
}

ILLEGAL = [
    (model, str(current), str(target))
    for model, rules in TRANSITIONS.items()
    for current in rules.moves
    for target in rules.moves
    if target != current and target not in rules.moves[current]
]


def assert_conflict(response: Any) -> None:
    assert response.status_code == 409, response.content
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "invalid_transition"
    assert isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize(("model", "current", "target"), ILLEGAL, ids=[f"{m.__name__}:{c}->{t}" for m, c, t in ILLEGAL])
def test_an_illegal_status_patch_is_409_and_changes_nothing(
    model: type[Model], current: str, target: str, api: APIClient
) -> None:
    make, url = MODELS[model]
    obj = make(current)
    before = type(obj).objects.values().get(pk=obj.pk)

    response = api.patch(url(obj), {"status": target}, format="json")

    assert_conflict(response)
    assert type(obj).objects.values().get(pk=obj.pk) == before
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize("status", ["active", "superseded", "achieved", "archived"])
def test_activating_a_goal_that_is_not_proposed_is_409(status: str, api: APIClient) -> None:
    goal = DomainGoalFactory.create(status=status)

    assert_conflict(api.post(f"/domain-goals/{goal.key}/activate"))
    goal.refresh_from_db()
    assert goal.status == status
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize("status", ["resolved", "superseded"])
def test_resolving_a_closed_decision_is_409(status: str, api: APIClient) -> None:
    decision = DecisionFactory.create(status=status)

    assert_conflict(api.post(f"/decisions/{decision.key}/resolve", {"rationale": "again"}, format="json"))
    decision.refresh_from_db()
    assert decision.status == status
    assert not OutboxEvent.objects.exists()


def test_the_cases_cover_every_model_with_a_forbidden_move() -> None:
    # Domains and repos go both ways between their two statuses, so they have no illegal move.
    assert {model for model, _, _ in ILLEGAL} == set(MODELS) - {Domain, Repo}
    assert len(ILLEGAL) > 40
