"""Keys are unique and slugs well-formed, in the services and in the database."""

import pytest
from django.db import IntegrityError, transaction

from hub import services
from hub.errors import ValidationFailed
from hub.models import Repo, Task
from tests.factories import DomainFactory, RepoFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_registering_a_repo_with_a_taken_slug_is_refused():
    RepoFactory.create(slug="state-hub")
    with pytest.raises(ValidationFailed) as excinfo:
        services.repo_register(data={"slug": "state-hub"})
    assert "slug" in excinfo.value.errors
    assert Repo.objects.count() == 1


@pytest.mark.parametrize("slug", ["State-Hub", "-hub", "hub_1", "hub hub", "", "a" * 101])
def test_a_bad_repo_slug_is_refused(slug):
    with pytest.raises(ValidationFailed):
        services.repo_register(data={"slug": slug})


@pytest.mark.parametrize("slug", ["Bad", "-x"])
def test_the_database_rejects_a_bad_slug_even_when_services_are_bypassed(slug):
    with pytest.raises(IntegrityError), transaction.atomic():
        Repo.objects.create(slug=slug)


def test_the_database_rejects_a_duplicate_task_key():
    task = TaskFactory.create(key="CUST-WP-0040-T05")
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(key="CUST-WP-0040-T05", workstream=task.workstream, title="again")


def test_the_database_rejects_an_unknown_status():
    with pytest.raises(IntegrityError), transaction.atomic():
        DomainFactory.create(status="dormant")


def test_a_service_refuses_fields_it_does_not_own():
    repo = RepoFactory.create()
    with pytest.raises(ValidationFailed, match="cannot be set"):
        services.repo_update(repo=repo, data={"id": "x"})


def test_an_unknown_task_priority_is_refused():
    task = TaskFactory.create()
    with pytest.raises(ValidationFailed, match="priority"):
        services.task_update(task=task, data={"priority": "urgent"})
