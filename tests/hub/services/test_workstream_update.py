"""Workstream updates: completion sets the time and records `workstream.completed` once."""

import pytest

from events.models import OutboxEvent
from hub import services
from tests.factories import TaskFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db


def test_completing_a_workstream_records_its_task_counts():
    workstream = WorkstreamFactory.create(status="active")
    TaskFactory.create(workstream=workstream, status="done")
    TaskFactory.create(workstream=workstream, status="cancel")
    TaskFactory.create(workstream=workstream, status="todo")

    services.workstream_update(workstream=workstream, data={"status": "completed"})

    attributes = OutboxEvent.objects.get().envelope["attributes"]
    assert attributes["tasks"] == {"total": 3, "done": 1, "cancel": 1, "open": 1}
    assert attributes["previous_status"] == "active"
    assert attributes["repo_slug"] == workstream.repo.slug


def test_completing_a_workstream_twice_records_one_event():
    workstream = WorkstreamFactory.create(status="active")
    services.workstream_update(workstream=workstream, data={"status": "completed"})
    services.workstream_update(workstream=workstream, data={"status": "completed", "title": "Renamed"})
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 1


def test_other_changes_record_no_event():
    workstream = WorkstreamFactory.create(status="active")
    services.workstream_update(workstream=workstream, data={"title": "New title", "priority": 1})
    services.workstream_update(workstream=workstream, data={"status": "blocked"})
    workstream.refresh_from_db()
    assert workstream.title == "New title"
    assert OutboxEvent.objects.count() == 0


def test_creating_a_completed_workstream_is_not_a_transition_and_records_nothing():
    repo = WorkstreamFactory.create().repo
    services.workstream_create(data={"key": "X-WP-0001", "repo": repo, "title": "t", "status": "completed"})
    assert OutboxEvent.objects.count() == 0
