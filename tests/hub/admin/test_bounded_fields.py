"""The admin refuses an over-long text that would go into an event envelope, like every other door."""

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from hub.models import RATIONALE_MAX_LENGTH, Decision
from tests.factories import DecisionFactory

pytestmark = pytest.mark.django_db


def test_resolving_with_an_over_long_rationale_in_the_admin_is_a_form_error(admin_client):
    decision = DecisionFactory.create(key="DEC-0001", options=["a", "b"])
    form = {
        "key": decision.key,
        "title": decision.title,
        "question": "",
        "options": "a\nb",
        "status": "resolved",
        "repo": "",
        "workstream": "",
        "rationale": "r" * (RATIONALE_MAX_LENGTH + 1),
        "chosen_option": "a",
        "decided_by": "admin",
    }

    response = admin_client.post(reverse("admin:hub_decision_change", args=[decision.pk]), form)

    assert response.status_code == 200
    assert f"at most {RATIONALE_MAX_LENGTH} characters" in response.content.decode()
    decision.refresh_from_db()
    assert decision.status == Decision.Status.OPEN
    assert not OutboxEvent.objects.exists()

    form["rationale"] = "r" * RATIONALE_MAX_LENGTH
    response = admin_client.post(reverse("admin:hub_decision_change", args=[decision.pk]), form)

    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.status == Decision.Status.RESOLVED
    assert OutboxEvent.objects.count() == 1
