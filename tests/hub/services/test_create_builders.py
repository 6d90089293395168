"""Single and bulk creates build their rows with the same builder, so every create rule holds for both."""

from typing import Any

import pytest

from hub import services
from hub.errors import ValidationFailed
from hub.models import Task, Workstream
from hub.services.workstreams import tasks_create_bulk, workplans_import
from tests.factories import RepoFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db

BAD_TASKS: list[dict[str, Any]] = [
    {"key": "T/1", "title": "slash in the key"},
    {"key": "T-1", "title": "x" * 301},
    {"key": "T-1", "title": "t", "priority": "urgent"},
    {"key": "T-1", "title": "t", "status": "someday"},
    {"key": "T-1", "title": "t", "colour": "red"},
]


@pytest.mark.parametrize("item", BAD_TASKS)
def test_a_task_refused_by_task_create_is_refused_by_both_bulk_creates(item):
    workstream: Workstream = WorkstreamFactory.create(key="CUST-WP-0001")
    repo = RepoFactory(slug="other")

    with pytest.raises(ValidationFailed) as single:
        services.task_create(data={**item, "workstream": workstream})
    with pytest.raises(ValidationFailed) as bulk:
        tasks_create_bulk(workstream=workstream, items=[item])
    with pytest.raises(ValidationFailed) as imported:
        workplans_import(items=[({"key": "CUST-WP-0002", "repo": repo, "title": "New"}, [item])])

    assert set(single.value.errors) == set(bulk.value.errors) == set(imported.value.errors)
    assert not Task.objects.exists()
    assert not Workstream.objects.filter(key="CUST-WP-0002").exists()


@pytest.mark.parametrize("data", [{"key": "WP/1", "title": "t"}, {"key": "WP-1", "title": "x" * 301}])
def test_a_workstream_refused_by_workstream_create_is_refused_by_the_import(data):
    repo = RepoFactory(slug="state-hub")
    with pytest.raises(ValidationFailed) as single:
        services.workstream_create(data={**data, "repo": repo})
    with pytest.raises(ValidationFailed) as imported:
        workplans_import(items=[({**data, "repo": repo}, [])])
    assert set(single.value.errors) == set(imported.value.errors)
    assert not Workstream.objects.exists()


def test_bulk_created_tasks_get_what_task_create_gives():
    workstream: Workstream = WorkstreamFactory.create(key="CUST-WP-0001")
    single = services.task_create(
        data={"key": "T-1", "title": "t", "status": "in_progress", "priority": "HIGH", "workstream": workstream}
    )
    (bulk,) = tasks_create_bulk(
        workstream=workstream, items=[{"key": "T-2", "title": "t", "status": "in_progress", "priority": "HIGH"}]
    )
    assert (single.status, single.priority) == (bulk.status, bulk.priority) == ("progress", "high")
    assert single.last_activity_at is not None and bulk.last_activity_at is not None
