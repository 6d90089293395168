"""Texts that go into event envelopes are bounded: an over-long value is a 400 at the write, never a dead letter."""

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from events.models import OutboxEvent
from hub.models import RATIONALE_MAX_LENGTH, Decision, Workstream
from tests.factories import DecisionFactory, RepoFactory

pytestmark = pytest.mark.django_db


def test_an_over_long_rationale_is_a_400_naming_the_field_and_changes_nothing(api: APIClient) -> None:
    decision = DecisionFactory.create(key="DEC-0001")

    response = api.post("/decisions/DEC-0001/resolve", {"rationale": "r" * 1_500_000}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "rationale": [f"Ensure this value has at most {RATIONALE_MAX_LENGTH} characters (it has 1500000)."]
    }
    decision.refresh_from_db()
    assert decision.status == Decision.Status.OPEN
    assert not OutboxEvent.objects.exists()


def test_a_rationale_at_the_bound_is_accepted(api: APIClient) -> None:
    DecisionFactory.create(key="DEC-0001")

    response = api.post("/decisions/DEC-0001/resolve", {"rationale": "r" * RATIONALE_MAX_LENGTH}, format="json")

    assert response.status_code == 200
    assert len(OutboxEvent.objects.get().envelope["attributes"]["rationale"]) == RATIONALE_MAX_LENGTH


def test_resolving_through_patch_is_bounded_the_same_way(api: APIClient) -> None:
    DecisionFactory.create(key="DEC-0001")

    response = api.patch(
        "/decisions/DEC-0001/", {"status": "resolved", "rationale": "r" * (RATIONALE_MAX_LENGTH + 1)}, format="json"
    )

    assert response.status_code == 400
    assert "rationale" in response.json()
    assert not OutboxEvent.objects.exists()


def test_a_sync_with_an_over_long_title_reports_the_file_and_records_no_event(
    api: APIClient, tmp_path: Path, settings: Any
) -> None:
    workplans = tmp_path / "checkout" / "workplans"
    workplans.mkdir(parents=True)
    (workplans / "LONG-WP-0001-long.md").write_text(
        f"---\nid: LONG-WP-0001\ntitle: {'t' * 400}\nrepo: long\nstatus: completed\n---\n# Long\n"
    )
    settings.STATEHUB_REPO_ROOTS = [str(tmp_path)]
    RepoFactory.create(slug="long", local_path=str(tmp_path / "checkout"))

    response = api.post("/repos/long/sync")

    assert response.status_code == 200
    assert "at most 300 characters" in response.content.decode()
    assert response.json()["exit_code"] == 1
    assert not Workstream.objects.exists()
    assert not OutboxEvent.objects.exists()
