"""`next_steps_get`: which tasks are next, in which order, and why; `NextStepList` reads it page by page."""

import datetime as dt

import pytest
from django.utils import timezone

from hub import selectors
from hub.errors import NotFound
from hub.models import Workstream
from hub.selectors import get_by_key_or_id, next_steps_get
from tests.factories import DecisionFactory, DomainFactory, RepoFactory, TaskFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db


def keys(queryset):
    return [task.key for task in queryset]


def test_only_todo_and_progress_tasks_of_active_workstreams_are_next():
    active = WorkstreamFactory.create(status="active")
    blocked = WorkstreamFactory.create(status="blocked")
    TaskFactory.create(workstream=active, key="A-todo", status="todo")
    TaskFactory.create(workstream=active, key="A-progress", status="progress")
    TaskFactory.create(workstream=active, key="A-wait", status="wait")
    TaskFactory.create(workstream=active, key="A-done", status="done")
    TaskFactory.create(workstream=blocked, key="B-todo", status="todo")

    assert set(keys(next_steps_get())) == {"A-todo", "A-progress"}


def test_order_is_todo_before_progress_then_task_priority_then_workstream_priority_then_order():
    first = WorkstreamFactory.create(priority=1)
    second = WorkstreamFactory.create(priority=2)
    TaskFactory.create(workstream=first, key="progress-critical", status="progress", priority="critical")
    TaskFactory.create(workstream=second, key="todo-low", status="todo", priority="low")
    TaskFactory.create(workstream=second, key="todo-high-ws2", status="todo", priority="high", order=1)
    TaskFactory.create(workstream=first, key="todo-high-ws1-order2", status="todo", priority="high", order=2)
    TaskFactory.create(workstream=first, key="todo-high-ws1-order1", status="todo", priority="high", order=1)

    assert keys(next_steps_get()) == [
        "todo-high-ws1-order1",
        "todo-high-ws1-order2",
        "todo-high-ws2",
        "todo-low",
        "progress-critical",
    ]


def test_tasks_of_a_workstream_with_a_recently_resolved_decision_come_first_with_that_reason():
    plain = WorkstreamFactory.create(priority=1)
    unblocked = WorkstreamFactory.create(priority=9)
    TaskFactory.create(workstream=plain, key="plain", priority="critical")
    TaskFactory.create(workstream=unblocked, key="unblocked", priority="low")
    DecisionFactory.create(workstream=unblocked, status="resolved", resolved_at=timezone.now() - dt.timedelta(days=2))
    old = WorkstreamFactory.create(priority=5)
    TaskFactory.create(workstream=old, key="old-decision", priority="low")
    DecisionFactory.create(workstream=old, status="resolved", resolved_at=timezone.now() - dt.timedelta(days=8))

    assert list(next_steps_get().values_list("key", "reason")) == [
        ("unblocked", "decision_resolved"),
        ("plain", "ready"),
        ("old-decision", "ready"),
    ]


def test_each_item_says_why_it_is_next():
    workstream = WorkstreamFactory.create()
    TaskFactory.create(workstream=workstream, status="progress")
    assert list(next_steps_get().values_list("reason", flat=True)) == ["in_progress"]


def test_next_steps_filter_by_repo_workstream_and_domain():
    domain = DomainFactory.create(slug="custodian")
    repo = RepoFactory.create(slug="state-hub", domain=domain)
    workstream = WorkstreamFactory.create(repo=repo, key="CUST-WP-0040")
    TaskFactory.create(workstream=workstream, key="mine")
    TaskFactory.create(key="other")

    assert keys(next_steps_get(repo="state-hub")) == ["mine"]
    assert keys(next_steps_get(workstream="CUST-WP-0040")) == ["mine"]
    assert keys(next_steps_get(domain="custodian")) == ["mine"]
    assert keys(next_steps_get(domain="nowhere")) == []


def test_objects_are_found_by_uuid_or_human_key():
    workstream = WorkstreamFactory.create(key="CUST-WP-0040")
    assert get_by_key_or_id(Workstream, "CUST-WP-0040") == workstream
    assert get_by_key_or_id(Workstream, str(workstream.id)) == workstream
    with pytest.raises(NotFound, match="CUST-WP-9999"):
        get_by_key_or_id(Workstream, "CUST-WP-9999")


def _mixed_next_steps() -> None:
    """Tasks in every bucket of the next-steps order, across workstreams of different priorities."""
    boosted = WorkstreamFactory.create(key="BOOST-WP-0001", priority=7)
    DecisionFactory.create(workstream=boosted, status="resolved", resolved_at=timezone.now() - dt.timedelta(days=1))
    workstreams = [boosted, *(WorkstreamFactory.create(key=f"PLAIN-WP-{n:04d}", priority=n % 3) for n in range(4))]
    WorkstreamFactory.create(key="IDLE-WP-0001", status="backlog")
    for w, workstream in enumerate(workstreams):
        for t, (status, priority) in enumerate(
            [("todo", "low"), ("progress", "critical"), ("todo", "high"), ("wait", "high"), ("todo", "high")]
        ):
            TaskFactory.create(
                workstream=workstream, key=f"{workstream.key}-T{t}", status=status, priority=priority, order=(w + t) % 3
            )


@pytest.mark.parametrize("sort_at_most", [0, 1000], ids=["bucket walk", "one sorted query"])
def test_next_step_pages_are_slices_of_the_next_steps_order(monkeypatch: pytest.MonkeyPatch, sort_at_most: int):
    monkeypatch.setattr(selectors, "NEXT_STEPS_SORT_AT_MOST", sort_at_most)
    _mixed_next_steps()
    expected = list(next_steps_get().values_list("key", "reason"))

    steps = selectors.NextStepList()

    assert steps.count() == len(expected) == 20
    for start, stop in [(0, 3), (3, 6), (2, 11), (0, 100), (18, 25)]:
        page = steps[start:stop]
        assert [(task.key, getattr(task, "reason")) for task in page] == expected[start:stop]  # noqa: B009
    assert keys(selectors.NextStepList(workstream="PLAIN-WP-0001")[0:10]) == keys(
        next_steps_get(workstream="PLAIN-WP-0001")
    )


@pytest.mark.parametrize("sort_at_most", [0, 1000], ids=["bucket walk", "one sorted query"])
def test_next_steps_after_a_position_continue_the_order_without_gaps(
    monkeypatch: pytest.MonkeyPatch, sort_at_most: int
):
    monkeypatch.setattr(selectors, "NEXT_STEPS_SORT_AT_MOST", sort_at_most)
    _mixed_next_steps()
    steps = selectors.NextStepList()

    walked, values, more = [], None, True
    while more:
        rows, more = steps.after(values, limit=3)
        walked += rows
        values = [getattr(rows[-1], name) for name in ("decision_boost", "status_rank", "priority_rank")] + [
            rows[-1].workstream.priority,
            rows[-1].order,
            rows[-1].key,
        ]

    assert keys(walked) == keys(next_steps_get())
