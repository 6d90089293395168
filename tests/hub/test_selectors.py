"""`next_steps_get`: which tasks are next, in which order, and why."""

import datetime as dt

import pytest
from django.utils import timezone

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
