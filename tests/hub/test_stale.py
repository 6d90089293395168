"""hub.stale: the stale-task rule as a predicate and as a query say the same thing for every combination."""

import itertools

import pytest
from django.utils import timezone

from hub.models import Task, Workstream
from hub.stale import stale_reason, stale_tasks
from tests.factories import RepoFactory, TaskFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db


def test_the_query_finds_exactly_the_tasks_the_predicate_calls_stale_with_the_same_reason() -> None:
    repo = RepoFactory.create()
    expected = {}
    for number, workstream_status in enumerate(Workstream.Status.values):
        workstream = WorkstreamFactory.create(repo=repo, key=f"STALE-WP-{number:04d}", status=workstream_status)
        for status, missing in itertools.product(Task.Status.values, (False, True)):
            task = TaskFactory.create(
                workstream=workstream,
                key=f"{workstream.key}-{status}-{'missing' if missing else 'listed'}",
                status=status,
                missing_from_workplan_at=timezone.now() if missing else None,
            )
            reason = stale_reason(status=status, workstream_status=workstream_status, missing_from_workplan=missing)
            if reason is not None:
                expected[task.key] = reason

    found = dict(stale_tasks().values_list("key", "stale_reason"))

    assert found == expected
    assert set(expected.values()) == {"workstream_closed", "missing_from_workplan"}


def test_an_open_task_of_a_closed_workstream_is_stale_for_that_reason_even_when_also_missing() -> None:
    assert stale_reason(status="progress", workstream_status="archived", missing_from_workplan=True) == (
        "workstream_closed"
    )
    assert stale_reason(status="done", workstream_status="archived", missing_from_workplan=True) is None
    assert stale_reason(status="wait", workstream_status="active", missing_from_workplan=False) is None
