"""The admin: every page loads, and every save goes through the services and their rules."""

from typing import Any

import pytest
from django.db.models import Model
from django.urls import reverse

from events.models import OutboxEvent
from hub.models import Decision, Domain, DomainGoal, ProgressEvent, Repo, Task, Workstream
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    ProgressEventFactory,
    RepoFactory,
    TaskFactory,
    WorkstreamFactory,
)

pytestmark = pytest.mark.django_db

FACTORIES: dict[type[Model], Any] = {
    Domain: DomainFactory,
    Repo: RepoFactory,
    DomainGoal: DomainGoalFactory,
    Workstream: WorkstreamFactory,
    Task: TaskFactory,
    Decision: DecisionFactory,
    ProgressEvent: ProgressEventFactory,
}


@pytest.mark.parametrize("model", list(FACTORIES), ids=lambda m: m.__name__)
def test_every_admin_page_loads(admin_client, model):
    obj = FACTORIES[model].create()
    opts = model._meta
    for url in [
        reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        reverse(f"admin:{opts.app_label}_{opts.model_name}_add"),
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url


def test_changelist_search_and_filter_work(admin_client):
    WorkstreamFactory.create(key="CUST-WP-0040", status="active")
    WorkstreamFactory.create(key="OTHER-WP-0001", status="blocked")
    url = reverse("admin:hub_workstream_changelist")
    response = admin_client.get(url, {"q": "CUST", "status__exact": "active"})
    assert response.status_code == 200
    assert b"CUST-WP-0040" in response.content
    assert b"OTHER-WP-0001" not in response.content


def _sorted_by(admin_client: Any, url: str, column: str) -> list[Any]:
    changelist = admin_client.get(url).context["cl"]
    position = list(changelist.list_display).index(column.lstrip("-"))
    response = admin_client.get(url, {"o": f"{'-' if column.startswith('-') else ''}{position}"})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_sorting_a_changelist_by_a_choice_column_follows_the_choices_order(admin_client):
    workstream = WorkstreamFactory()
    # Keys in the reverse of the expected order: neither the alphabet nor the key can pass for the rank.
    for number, priority in enumerate(reversed(Task.Priority.values)):
        TaskFactory(workstream=workstream, key=f"P-{number}", priority=priority, status="todo")
    for number, status in enumerate(reversed(Workstream.Status.values)):
        WorkstreamFactory(key=f"W-{number}", status=status)
    tasks = reverse("admin:hub_task_changelist")
    workstreams = reverse("admin:hub_workstream_changelist")

    assert [t.priority for t in _sorted_by(admin_client, tasks, "priority")] == ["low", "medium", "high", "critical"]
    assert [t.priority for t in _sorted_by(admin_client, tasks, "-priority")] == ["critical", "high", "medium", "low"]
    by_status = [w.key for w in _sorted_by(admin_client, workstreams, "status") if w.key.startswith("W-")]
    assert by_status == [f"W-{n}" for n in reversed(range(len(Workstream.Status.values)))]


def _workstream_form(workstream: Workstream, **changes: object) -> dict[str, object]:
    data = {
        "key": workstream.key,
        "repo": str(workstream.repo_id),
        "domain_goal": "",
        "title": workstream.title,
        "owner": workstream.owner,
        "priority": workstream.priority,
        "status": workstream.status,
        "tasks-TOTAL_FORMS": "0",
        "tasks-INITIAL_FORMS": "0",
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_completing_a_workstream_in_the_admin_goes_through_the_service_and_records_its_event(
    admin_client, django_capture_on_commit_callbacks
):
    workstream = WorkstreamFactory.create(status="active")
    url = reverse("admin:hub_workstream_change", args=[workstream.pk])

    with django_capture_on_commit_callbacks():
        response = admin_client.post(url, _workstream_form(workstream, status="completed"))

    assert response.status_code == 302
    workstream.refresh_from_db()
    assert workstream.status == "completed"
    assert workstream.completed_at is not None
    event = OutboxEvent.objects.get()
    assert event.subject == "org.statehub.workstream.completed"
    assert event.envelope["attributes"]["workstream_key"] == workstream.key


def test_an_illegal_transition_in_the_admin_is_a_form_error_and_changes_nothing(admin_client):
    workstream = WorkstreamFactory.create(status="completed", title="Before")
    url = reverse("admin:hub_workstream_change", args=[workstream.pk])

    response = admin_client.post(url, _workstream_form(workstream, status="proposed", title="After"))

    assert response.status_code == 200
    assert "Select a valid choice. proposed is not one of the available choices." in response.content.decode()
    workstream.refresh_from_db()
    assert (workstream.status, workstream.title) == ("completed", "Before")
    assert OutboxEvent.objects.count() == 0


def test_registering_a_repo_in_the_admin_records_repo_registered(admin_client):
    domain = DomainFactory.create(slug="custodian")
    response = admin_client.post(
        reverse("admin:hub_repo_add"),
        {
            "slug": "state-hub",
            "name": "State Hub",
            "domain": str(domain.pk),
            "remote_url": "",
            "local_path": "",
            "workplan_dir": "workplans",
            "default_branch": "main",
            "status": "active",
        },
    )
    assert response.status_code == 302
    assert Repo.objects.get().slug == "state-hub"
    assert OutboxEvent.objects.get().envelope["attributes"]["domain_slug"] == "custodian"


def test_a_repo_whose_checkout_is_a_root_itself_is_a_form_error_in_the_admin(admin_client, settings, tmp_path):
    settings.STATEHUB_REPO_ROOTS = [str(tmp_path)]
    form = {
        "slug": "hostile",
        "name": "Hostile",
        "domain": "",
        "remote_url": "",
        "local_path": str(tmp_path),
        "workplan_dir": "other-checkout/workplans",
        "default_branch": "main",
        "status": "active",
    }
    response = admin_client.post(reverse("admin:hub_repo_add"), form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "local_path": [
            f"local_path must be a checkout inside one of STATEHUB_REPO_ROOTS ({tmp_path.resolve()}), "
            "not a root itself."
        ]
    }
    assert not Repo.objects.exists()
    assert OutboxEvent.objects.count() == 0


def test_activating_a_goal_in_the_admin_supersedes_the_active_one(admin_client):
    domain = DomainFactory.create()
    current = DomainGoalFactory.create(domain=domain, status="active")
    goal = DomainGoalFactory.create(domain=domain, status="proposed")
    response = admin_client.post(
        reverse("admin:hub_domaingoal_change", args=[goal.pk]),
        {"key": goal.key, "domain": str(domain.pk), "title": goal.title, "description": "", "status": "active"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    current.refresh_from_db()
    goal.refresh_from_db()
    assert (current.status, goal.status) == ("superseded", "active")


def test_resolving_a_decision_in_the_admin_needs_a_rationale(admin_client):
    decision = DecisionFactory.create(options=["a", "b"])
    url = reverse("admin:hub_decision_change", args=[decision.pk])
    form = {
        "key": decision.key,
        "title": decision.title,
        "question": decision.question,
        "options": '["a", "b"]',
        "status": "resolved",
        "repo": "",
        "workstream": "",
        "rationale": "",
        "chosen_option": "",
        "decided_by": "",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert "A rationale is required" in response.content.decode()

    response = admin_client.post(url, {**form, "rationale": "clear winner", "chosen_option": "b"})
    assert response.status_code == 302
    decision.refresh_from_db()
    assert (decision.status, decision.chosen_option, decision.decided_by) == ("resolved", "b", "admin")


def test_nothing_can_be_deleted_from_the_admin(admin_client):
    workstream = WorkstreamFactory.create()
    response = admin_client.get(reverse("admin:hub_workstream_delete", args=[workstream.pk]))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        ("active", ["active", "blocked", "backlog", "completed", "archived"]),
        ("completed", ["completed", "archived"]),
        ("archived", ["archived"]),
    ],
)
def test_the_workstream_status_select_offers_the_current_and_the_allowed_next_statuses(
    admin_client, status: str, offered: list[str]
):
    workstream = WorkstreamFactory.create(status=status)

    response = admin_client.get(reverse("admin:hub_workstream_change", args=[workstream.pk]))

    assert [value for value, _ in response.context["adminform"].form.fields["status"].choices] == offered


def test_completing_selected_workstreams_records_one_event_each_and_names_the_refused(
    admin_client, django_capture_on_commit_callbacks
):
    active = WorkstreamFactory.create_batch(2, status="active")
    proposed = WorkstreamFactory.create(status="proposed", key="TEST-WP-9999")

    with django_capture_on_commit_callbacks():
        response = admin_client.post(
            reverse("admin:hub_workstream_changelist"),
            {"action": "complete_selected", "_selected_action": [str(w.pk) for w in [*active, proposed]]},
            follow=True,
        )

    page = response.content.decode()
    assert "2 workstream(s) completed." in page
    assert "1 refused — TEST-WP-9999" in page
    assert sorted(Workstream.objects.values_list("status", flat=True)) == ["completed", "completed", "proposed"]
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 2


def test_canceling_selected_tasks_goes_through_the_service(admin_client):
    tasks = TaskFactory.create_batch(3, status="todo")

    admin_client.post(
        reverse("admin:hub_task_changelist"),
        {"action": "cancel_selected", "_selected_action": [str(t.pk) for t in tasks[:2]]},
    )

    assert sorted(Task.objects.values_list("status", flat=True)) == ["cancel", "cancel", "todo"]
