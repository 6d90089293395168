"""The admin door: its changes leave history rows, its history pages show them, its objects link to their events."""

import re
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse

from events.subjects import REGISTRY
from hub import history, services
from hub.admin import ServiceAdmin
from hub.models import Decision, Domain, DomainGoal, Repo, Task, Workstream
from tests.factories import DomainFactory, TaskFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db

TRACKED = [Domain, Repo, DomainGoal, Workstream, Task, Decision]


def _rows(model: Any, **lookup: Any) -> list[Any]:
    return list(model.history.filter(**lookup).order_by("history_date", "history_id"))


def test_a_change_in_the_admin_leaves_a_row_of_the_admin_door_by_the_signed_in_user(
    admin_client: Any, admin_user: User
) -> None:
    domain = DomainFactory.create(slug="custodian", name="Custodian")

    response = admin_client.post(
        reverse("admin:hub_domain_change", args=[domain.pk]),
        {
            "slug": "custodian",
            "name": "Custodians",
            "description": "",
            "status": "active",
            # The members inline (domain access), left as it is.
            "access-TOTAL_FORMS": "0",
            "access-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    rows = _rows(Domain, id=domain.pk)
    assert [(row.history_type, row.door, row.history_user, row.name) for row in rows] == [
        ("+", "", None, "Custodian"),  # the factory's insert
        ("~", "admin", admin_user, "Custodians"),
    ]


def test_an_admin_bulk_action_leaves_a_row_of_the_admin_door_per_object(admin_client: Any, admin_user: User) -> None:
    tasks = TaskFactory.create_batch(2, status="todo")

    admin_client.post(
        reverse("admin:hub_task_changelist"),
        {"action": "cancel_selected", "_selected_action": [str(task.pk) for task in tasks]},
    )

    rows = [row for task in tasks for row in _rows(Task, id=task.pk) if row.history_type == "~"]
    assert [(row.door, row.history_user, row.status) for row in rows] == [("admin", admin_user, "cancel")] * 2


@pytest.mark.parametrize("model", TRACKED, ids=lambda m: m.__name__)
def test_the_admin_history_page_lists_the_changes_with_their_door(admin_client: Any, model: Any) -> None:
    with history.door(history.Door.MCP):
        objects = _one_of_each()
    obj = objects[model]

    response = admin_client.get(reverse(f"admin:hub_{model._meta.model_name}_history", args=[obj.pk]))

    assert response.status_code == 200
    page = re.sub(r"\s+", " ", response.content.decode())
    assert '<th scope="col">door</th>' in page and "<td>Created</td>" in page
    assert "<td>mcp</td>" in page
    assert "Revert" not in page  # history is read here; changes go through the services


def _one_of_each() -> dict[Any, Any]:
    domain = services.domain_create(data={"slug": "custodian", "name": "Custodian"})
    repo = services.repo_register(data={"slug": "state-hub", "domain": domain})
    objects = {
        Domain: domain,
        Repo: repo,
        DomainGoal: services.domain_goal_create(data={"key": "goal", "domain": domain, "title": "Goal"}),
        Workstream: services.workstream_create(data={"key": "CUST-WP-0040", "repo": repo, "title": "W"}),
        Decision: services.decision_create(data={"key": "DEC-0012", "title": "D"}),
    }
    objects[Task] = services.task_create(
        data={"key": "CUST-WP-0040-T01", "workstream": objects[Workstream], "title": "T"}
    )
    return objects


def test_a_change_page_links_to_the_outbox_events_that_name_the_object(admin_client: Any) -> None:
    completed = WorkstreamFactory.create(key="CUST-WP-0040", status="active")
    other = WorkstreamFactory.create(key="CUST-WP-0041", status="active")
    for workstream in (completed, other):
        services.workstream_update(workstream=workstream, data={"status": "completed"})

    page = admin_client.get(reverse("admin:hub_workstream_change", args=[completed.pk])).content.decode()

    link = reverse("admin:events_outboxevent_changelist") + "?envelope__attributes__workstream_key=CUST-WP-0040"
    assert f'href="{link}"' in page
    events = admin_client.get(link)
    assert events.status_code == 200
    shown = [event.envelope["attributes"]["workstream_key"] for event in events.context["cl"].result_list]
    assert shown == ["CUST-WP-0040"]


@pytest.mark.parametrize("model", TRACKED, ids=lambda m: m.__name__)
def test_every_tracked_model_links_by_an_attribute_its_events_carry(model: Any) -> None:
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, ServiceAdmin)

    attributes = {name for registration in REGISTRY.values() for name in registration.attribute_names}

    assert model_admin.events_attribute in attributes
    assert model._meta.get_field(model_admin.events_key_field).unique
