"""Activating a goal supersedes the domain's active one, in one transaction."""

import pytest
from django.db import IntegrityError, transaction

from hub import services
from hub.errors import Conflict, InvalidTransition, ValidationFailed
from hub.models import DomainGoal
from tests.factories import DomainFactory, DomainGoalFactory

pytestmark = pytest.mark.django_db


def test_activating_a_goal_supersedes_the_active_goal_of_its_domain():
    domain = DomainFactory.create()
    current = DomainGoalFactory.create(domain=domain, status="active")
    other_domain_goal = DomainGoalFactory.create(status="active")
    proposed = DomainGoalFactory.create(domain=domain, status="proposed")

    activated = services.domain_goal_activate(goal=proposed)

    current.refresh_from_db()
    other_domain_goal.refresh_from_db()
    assert activated.status == "active"
    assert activated.activated_at is not None
    assert current.status == "superseded"
    assert other_domain_goal.status == "active"


def test_activating_records_which_goal_was_superseded():
    from events.models import OutboxEvent

    domain = DomainFactory.create(slug="custodian")
    DomainGoalFactory.create(domain=domain, key="old-goal", status="active")
    goal = DomainGoalFactory.create(domain=domain, key="custodian-automation", status="proposed")

    services.domain_goal_activate(goal=goal)

    attributes = OutboxEvent.objects.get(subject="org.statehub.domain.goal.activated").envelope["attributes"]
    assert attributes["goal_key"] == "custodian-automation"
    assert attributes["superseded_goal_key"] == "old-goal"
    assert attributes["previous_status"] == "proposed"
    assert attributes["domain_slug"] == "custodian"


def test_only_a_proposed_goal_can_be_activated():
    goal = DomainGoalFactory.create(status="achieved")
    with pytest.raises(InvalidTransition):
        services.domain_goal_activate(goal=goal)


def test_the_database_allows_one_active_goal_per_domain():
    domain = DomainFactory.create()
    DomainGoalFactory.create(domain=domain, status="active")
    with pytest.raises(IntegrityError), transaction.atomic():
        DomainGoal.objects.create(key="second", domain=domain, title="Second", status="active")


def test_creating_a_second_active_goal_through_the_service_is_a_conflict():
    domain = DomainFactory.create()
    DomainGoalFactory.create(domain=domain, status="active")
    with pytest.raises((Conflict, ValidationFailed), match="already has an active goal"):
        services.domain_goal_create(data={"key": "second", "domain": domain, "title": "Second", "status": "active"})
    assert DomainGoal.objects.filter(domain=domain, status="active").count() == 1
