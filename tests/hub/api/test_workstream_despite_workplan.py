"""`PATCH /workstreams/{key}/` with a status the workplan file contradicts: 409 naming the file, unless meant."""

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from events.models import OutboxEvent
from hub.models import Workstream
from hub.reconcile import reconcile_repo
from tests.hub.reconcile.support import register

pytestmark = pytest.mark.django_db

PLAN = "workplans/CUST-WP-0040-delegate-maintenance.md"


@pytest.fixture(autouse=True)
def synced(tmp_path: Path) -> None:
    reconcile_repo(repo=register(tmp_path, "clean"), fix=True)


def test_completing_a_workstream_its_file_calls_active_is_a_409_naming_the_file(api: APIClient) -> None:
    response = api.patch("/workstreams/CUST-WP-0040/", {"status": "completed"}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "contradicts_workplan"
    assert PLAN in body["detail"]
    assert "?despite_workplan=true" in body["detail"]
    assert Workstream.objects.get(key="CUST-WP-0040").status == "active"
    assert not OutboxEvent.objects.exists()


def test_despite_workplan_makes_the_change(api: APIClient) -> None:
    response = api.patch("/workstreams/CUST-WP-0040/?despite_workplan=true", {"status": "completed"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "completed"
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 1


def test_a_despite_workplan_that_is_no_boolean_is_a_400(api: APIClient) -> None:
    response = api.patch("/workstreams/CUST-WP-0040/?despite_workplan=perhaps", {"status": "completed"}, format="json")

    assert response.status_code == 400
    assert "despite_workplan" in response.json()
    assert Workstream.objects.get(key="CUST-WP-0040").status == "active"
