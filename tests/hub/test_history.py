"""Every create and update of a tracked object leaves a history row with its door and user, in its transaction."""

import io
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from hub import history, services
from hub.errors import InvalidTransition
from hub.models import Decision, Domain, DomainGoal, Repo, Task, Workstream
from tests.factories import DomainFactory, TaskFactory, WorkstreamFactory
from tests.hub.reconcile.support import register
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

TRACKED = [Domain, Repo, DomainGoal, Workstream, Task, Decision]


def _rows(model: Any, **lookup: Any) -> list[Any]:
    return list(model.history.filter(**lookup).order_by("history_date", "history_id"))


@pytest.fixture(autouse=True)
def _plain_http(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def writer() -> User:
    user = User.objects.create_user("writer")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="hub"))
    return user


def _client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.mark.parametrize("model", TRACKED, ids=lambda m: m.__name__)
def test_every_tracked_model_has_a_history_with_the_door(model: Any) -> None:
    assert {field.name for field in model.history.model._meta.fields} >= {
        "history_date",
        "history_user",
        "history_type",
        "door",
    }


def test_an_api_create_and_update_leave_rows_of_the_api_door_by_the_token_user(writer: User) -> None:
    workstream = WorkstreamFactory.create(key="CUST-WP-0040")
    api = _client(writer)

    body = {"key": "CUST-WP-0040-T01", "workstream": workstream.key, "title": "A"}
    created = api.post("/tasks/", body, format="json")
    changed = api.patch("/tasks/CUST-WP-0040-T01/", {"status": "progress"}, format="json")

    assert (created.status_code, changed.status_code) == (201, 200)
    rows = _rows(Task, key="CUST-WP-0040-T01")
    assert [(row.history_type, row.door, row.history_user, row.status) for row in rows] == [
        ("+", "api", writer, "todo"),
        ("~", "api", writer, "progress"),
    ]


def test_a_refused_api_change_leaves_no_history_row(writer: User) -> None:
    TaskFactory.create(key="CUST-WP-0040-T02", status="cancel")

    response = _client(writer).patch("/tasks/CUST-WP-0040-T02/", {"status": "todo"}, format="json")

    assert response.status_code == 409
    assert [row.history_type for row in _rows(Task, key="CUST-WP-0040-T02")] == ["+"]  # the factory's insert


def test_a_rolled_back_change_takes_its_history_row_with_it() -> None:
    domain = DomainFactory.create(slug="custodian")
    before = Domain.history.count()

    with pytest.raises(InvalidTransition), transaction.atomic():
        services.domain_update(domain=domain, data={"name": "Renamed"})
        services.domain_create(data={"slug": "other", "name": "Other"})
        raise InvalidTransition("abandon the whole change")

    assert Domain.history.count() == before
    assert Domain.objects.get().name == "Custodian"


def test_the_innermost_door_wins_and_keeps_the_enclosing_user(writer: User) -> None:
    with history.door(history.Door.API, user=writer), history.door(history.Door.SYNC):
        services.domain_create(data={"slug": "inner", "name": "Inner"})

    (row,) = _rows(Domain, slug="inner")
    assert (row.door, row.history_user) == ("sync", writer)


def test_a_change_outside_any_door_has_no_door_and_no_user() -> None:
    services.domain_create(data={"slug": "shell", "name": "Shell"})

    (row,) = _rows(Domain, slug="shell")
    assert (row.door, row.history_user) == ("", None)


def test_a_sync_through_the_api_leaves_rows_of_the_sync_door_by_the_caller(tmp_path: Any, writer: User) -> None:
    repo = register(tmp_path, "clean")

    response = _client(writer).post(f"/repos/{repo.slug}/sync", format="json")

    assert response.status_code == 200
    workstream_rows = _rows(Workstream, repo_id=repo.pk)
    task_rows = _rows(Task, workstream__repo=repo)
    assert len(workstream_rows) == Workstream.objects.filter(repo=repo).count() == 3
    assert len(task_rows) == Task.objects.filter(workstream__repo=repo).count() > 0
    assert {(row.door, row.history_user, row.history_type) for row in [*workstream_rows, *task_rows]} == {
        ("sync", writer, "+")
    }
    # The bulk import's rows are whole snapshots, like those of a save.
    snapshot = ("key", "workstream_id", "title", "status", "priority", "order", "assignee", "created_at")
    assert sorted(tuple(getattr(row, name) for name in snapshot) for row in task_rows) == sorted(
        Task.objects.filter(workstream__repo=repo).values_list(*snapshot)
    )


def test_a_sync_keeps_no_history_of_its_own_bookkeeping(tmp_path: Any, writer: User) -> None:
    repo = register(tmp_path, "clean")

    _client(writer).post(f"/repos/{repo.slug}/sync", format="json")
    _client(writer).post(f"/repos/{repo.slug}/sync", format="json")

    repo.refresh_from_db()
    assert repo.last_synced_at is not None and repo.last_attempted_at is not None
    assert [row.history_type for row in _rows(Repo, slug=repo.slug)] == ["+"]  # the registration only


def test_consistency_check_fix_updates_leave_rows_of_the_sync_door_without_a_user(tmp_path: Any) -> None:
    repo = register(tmp_path, "clean")
    call_command("consistency_check", "--repo", repo.slug, "--fix", stdout=io.StringIO())
    task = Task.objects.filter(workstream__repo=repo, status="todo").first()
    assert task is not None
    # Drift the file will undo (a hand edit that moves `updated_at`, so the sync looks at it again).
    Task.objects.filter(pk=task.pk).update(title="Edited by hand", updated_at=timezone.now())

    call_command("consistency_check", "--repo", repo.slug, "--fix", stdout=io.StringIO())

    rows = _rows(Task, id=task.pk)
    assert [(row.history_type, row.door, row.history_user) for row in rows] == [
        ("+", "sync", None),
        ("~", "sync", None),
    ]
    assert rows[-1].title != "Edited by hand"


def test_cleanup_stale_tasks_leaves_one_row_of_the_command_door_per_canceled_task() -> None:
    closed = WorkstreamFactory.create(status=Workstream.Status.COMPLETED)
    stale = TaskFactory.create_batch(3, workstream=closed, status="todo")
    kept = TaskFactory.create(workstream=closed, status="done")
    start = timezone.now()

    call_command("cleanup_stale_tasks", stdout=io.StringIO())

    rows = list(Task.history.filter(history_date__gte=start))
    assert sorted(str(row.id) for row in rows) == sorted(str(task.pk) for task in stale)
    assert {(row.history_type, row.door, row.history_user, row.status) for row in rows} == {
        ("~", "command", None, "cancel")
    }
    assert kept.pk not in {row.id for row in rows}
