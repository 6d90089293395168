"""The task's copies of its workstream's status and priority (ADR 003), and the next-steps order read from them.

Every writer of a workstream's status or priority, or of a task's workstream, leaves the copies true:
the services, the API, the admin, the workplan sync (bulk imports and updates) and plain SQL. MCP
writes neither (it resolves decisions and adds progress); its `get_next_steps` is checked against the
definition of the order instead.
"""

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from hub import selectors, services
from hub.mcp import tools
from hub.models import Task, Workstream
from hub.reconcile import reconcile_repo
from hub.selectors import next_steps_get
from hub.services.workstreams import tasks_create_bulk
from tests.factories import DecisionFactory, RepoFactory, TaskFactory, WorkstreamFactory
from tests.hub.api.conftest import client_for
from tests.hub.reconcile.support import register, switch_checkout

pytestmark = pytest.mark.django_db


def copies_are_true() -> list[str]:
    """Tasks whose copies differ from their workstream's status and priority (none, when all is well)."""
    return [
        task.key
        for task in Task.objects.select_related("workstream")
        if (task.workstream_status, task.workstream_priority) != (task.workstream.status, task.workstream.priority)
    ]


def test_a_task_takes_its_workstreams_status_and_priority_however_it_is_written():
    first = WorkstreamFactory.create(status="active", priority=3)
    second = WorkstreamFactory.create(status="blocked", priority=9)
    saved = TaskFactory.create(workstream=first)
    created = services.task_create(data={"key": "SVC-T1", "workstream": first, "title": "By the service"})
    bulk = tasks_create_bulk(workstream=second, items=[{"key": "BULK-T1", "title": "In bulk"}])
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO hub_task (id, created_at, updated_at, key, workstream_id, title, status, priority, "order",
                assignee, blocking_reason, workstream_status, workstream_priority)
            VALUES (gen_random_uuid(), now(), now(), 'SQL-T1', %s, 'By SQL', 'todo', 'low', 0, '', '', 'lies', 77)""",
            [second.pk],
        )

    assert copies_are_true() == []
    assert Task.objects.get(pk=created.pk).workstream_status == "active"
    assert Task.objects.get(pk=bulk[0].pk).workstream_priority == 9

    saved.workstream = second  # moved to another workstream, by a plain save
    saved.save()
    Task.objects.filter(pk=created.pk).update(workstream_status="lies", workstream_priority=-1)

    assert copies_are_true() == []


def test_changing_a_workstream_rewrites_its_tasks_copies_through_every_door(admin_client: Any, settings: Any):
    settings.SECURE_SSL_REDIRECT = False
    by_service, by_api, by_admin, by_sql, untouched = (
        WorkstreamFactory.create(status="active", priority=n) for n in range(5)
    )
    for workstream in (by_service, by_api, by_admin, by_sql, untouched):
        TaskFactory.create_batch(3, workstream=workstream)
    writer = client_for(User.objects.create_superuser("writer", "", "pw-for-tests-only"))

    services.workstream_update(workstream=by_service, data={"status": "blocked", "priority": 40})
    response = writer.patch(f"/workstreams/{by_api.key}/", {"status": "completed", "priority": 41}, format="json")
    assert response.status_code == 200, response.content
    form = {
        "key": by_admin.key,
        "repo": str(by_admin.repo_id),
        "domain_goal": "",
        "title": by_admin.title,
        "owner": by_admin.owner,
        "priority": 42,
        "status": "blocked",
        "tasks-TOTAL_FORMS": "0",
        "tasks-INITIAL_FORMS": "0",
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "1000",
    }
    assert admin_client.post(reverse("admin:hub_workstream_change", args=[by_admin.pk]), form).status_code == 302
    Workstream.objects.filter(pk=by_sql.pk).update(priority=43)

    assert copies_are_true() == []
    copies = dict(Task.objects.values_list("workstream__key", "workstream_priority").distinct())
    assert [copies[w.key] for w in (by_service, by_api, by_admin, by_sql, untouched)] == [40, 41, 42, 43, 4]
    assert set(Task.objects.filter(workstream=by_api).values_list("workstream_status", flat=True)) == {"completed"}


def test_the_workplan_sync_leaves_the_copies_true(tmp_path: Path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)  # a first import: workstreams and tasks in bulk
    assert Task.objects.exists() and copies_are_true() == []

    switch_checkout(repo, tmp_path, "drifted")  # a title, a status (completed), a priority change, new tasks
    reconcile_repo(repo=repo, fix=True)

    assert copies_are_true() == []
    assert set(Task.objects.filter(workstream__key="CUST-WP-0040").values_list("workstream_status", flat=True)) == {
        "completed"
    }


def _varied_hub(seed: int) -> None:
    """Workstreams of every status with tied and distinct priorities, tasks of every status and priority with
    tied orders, and decisions resolved in and out of the boost window, on active and inactive workstreams."""
    chance = random.Random(seed)
    now = timezone.now()
    repos = [RepoFactory.create() for _ in range(3)]
    workstreams = [
        WorkstreamFactory.create(
            key=f"V{seed}-WP-{n:03d}",
            repo=chance.choice(repos),
            status=chance.choice(["active"] * 4 + list(Workstream.Status.values)),
            priority=chance.choice([0, 1, 1, 5, 100]),
        )
        for n in range(24)
    ]
    for n, workstream in enumerate(workstreams):
        for t in range(chance.randint(0, 9)):
            TaskFactory.create(
                workstream=workstream,
                key=f"{workstream.key}-T{t:02d}",
                status=chance.choice(Task.Status.values),
                priority=chance.choice(Task.Priority.values),
                order=chance.choice([0, 1, 2, t]),
            )
        if n % 5 == 0:
            days = chance.choice([1, 3, 6, 10])
            DecisionFactory.create(workstream=workstream, status="resolved", resolved_at=now - dt.timedelta(days=days))
        elif n % 7 == 0:
            DecisionFactory.create(workstream=workstream, status="open")
    # Changes after the tasks were written, so the copies are the rewritten ones.
    for workstream in chance.sample(workstreams, 6):
        services.workstream_update(
            workstream=workstream,
            data={"priority": chance.choice([0, 1, 5])},
            despite_workplan=True,
        )
    Workstream.objects.filter(pk__in=[w.pk for w in chance.sample(workstreams, 4)]).update(status="active")
    # At least one boosted workstream with next tasks.
    Workstream.objects.filter(pk=workstreams[0].pk).update(status="active")
    TaskFactory.create(workstream=workstreams[0], key=f"{workstreams[0].key}-T99", status="todo")
    DecisionFactory.create(workstream=workstreams[0], status="resolved", resolved_at=now - dt.timedelta(days=1))


def _values(task: Any) -> list[Any]:
    """The task's values of `NEXT_STEPS_ORDERING`, as a cursor carries them."""
    ranks = [getattr(task, name) for name in ("decision_boost", "status_rank", "priority_rank")]
    return [*ranks, task.workstream.priority, task.order, task.key]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("sort_at_most", [0, 1000], ids=["bucket walk", "one sorted query"])
def test_the_next_steps_read_from_the_copies_keep_the_order_and_reasons_of_the_definition(
    monkeypatch: pytest.MonkeyPatch, seed: int, sort_at_most: int
):
    monkeypatch.setattr(selectors, "NEXT_STEPS_SORT_AT_MOST", sort_at_most)
    _varied_hub(seed)
    assert copies_are_true() == []

    for filters in [{}, {"repo": Workstream.objects.order_by("key")[0].repo.slug}, {"workstream": f"V{seed}-WP-003"}]:
        expected = [(task.key, getattr(task, "reason")) for task in next_steps_get(**filters)]  # noqa: B009
        steps = selectors.NextStepList(**filters)

        paged = [step for start in range(0, len(expected) + 7, 7) for step in steps[start : start + 7]]
        assert [(task.key, getattr(task, "reason")) for task in paged] == expected  # noqa: B009
        walked, values, more = [], None, True
        while more:
            rows, more = steps.after(values, limit=5)
            walked += rows
            values = _values(rows[-1]) if rows else None
        assert [(task.key, getattr(task, "reason")) for task in walked] == expected  # noqa: B009

        answer = tools.get_next_steps(**filters, limit=200)
        assert [(item["task"], item["reason"]) for item in answer["items"]] == expected[:200]
        if not filters:
            assert {reason for _, reason in expected} == {"decision_resolved", "ready", "in_progress"}
