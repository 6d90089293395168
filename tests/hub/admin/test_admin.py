"""The admin: every page loads, and every save goes through the services and their rules."""

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events.models import OutboxEvent
from hub.models import Decision, Domain, DomainGoal, ProgressEvent, Repo, Task, Workstream
from hub.reconcile import reconcile_repo
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    ProgressEventFactory,
    RepoFactory,
    TaskFactory,
    WorkstreamFactory,
)
from tests.hub.reconcile.support import register

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


@pytest.mark.parametrize(
    ("query", "limit"),
    [(" ".join(["a"] * 1900), "at most 8 terms"), ("CUST ab", "at least 3 letters or digits")],
)
def test_a_search_out_of_bounds_lists_no_rows_and_says_why(admin_client: Client, query: str, limit: str) -> None:
    TaskFactory.create(key="CUST-WP-0040-T01")
    url = reverse("admin:hub_task_changelist")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url, {"q": query})

    assert response.status_code == 200
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(shown) == 1 and shown[0].startswith("Search not run:") and limit in shown[0]
    assert b"CUST-WP-0040-T01" not in response.content
    assert not [query["sql"] for query in queries.captured_queries if 'FROM "hub_task"' in query["sql"]]


def test_a_nul_in_the_admin_search_is_a_message_not_a_server_error(admin_client: Client) -> None:
    # Django's own search form refuses it (and searches nothing) before the hub's rule is asked.
    response = admin_client.get(reverse("admin:hub_task_changelist"), {"q": "abc\x00def"})

    assert response.status_code == 200
    assert [str(message) for message in get_messages(response.wsgi_request)] == ["Null characters are not allowed."]


def test_an_autocomplete_term_too_short_finds_nothing_yet_and_leaves_no_message(admin_client: Client) -> None:
    WorkstreamFactory.create(key="CUST-WP-0040")
    url = reverse("admin:autocomplete")
    field = {"app_label": "hub", "model_name": "task", "field_name": "workstream"}

    short = admin_client.get(url, {**field, "term": "CU"})
    enough = admin_client.get(url, {**field, "term": "CUS"})

    assert short.status_code == 200 and short.json()["results"] == []
    assert [item["text"] for item in enough.json()["results"]] == ["CUST-WP-0040"]
    assert list(get_messages(short.wsgi_request)) == []


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
        "options": "a\nb",
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


def test_the_decision_form_edits_options_one_per_line_and_offers_them_as_the_chosen_option(admin_client):
    decision = DecisionFactory.create(options=["keep nats", "move to kafka"])
    url = reverse("admin:hub_decision_change", args=[decision.pk])

    form = admin_client.get(url).context["adminform"].form
    assert form["options"].value() == "keep nats\nmove to kafka"
    assert "<textarea" in str(form["options"])
    assert [value for value, _ in form.fields["chosen_option"].choices] == ["", "keep nats", "move to kafka"]

    response = admin_client.post(
        url,
        {
            "key": decision.key,
            "title": decision.title,
            "question": "",
            "options": "keep nats\n\n  move to kafka  \nstay on redis\n",
            "status": "open",
            "repo": "",
            "workstream": "",
            "rationale": "",
            "chosen_option": "",
            "decided_by": "",
        },
    )

    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.options == ["keep nats", "move to kafka", "stay on redis"]


def test_the_decision_form_refuses_a_chosen_option_that_is_not_an_option(admin_client):
    decision = DecisionFactory.create(options=["a", "b"])
    form = {
        "key": decision.key,
        "title": decision.title,
        "question": "",
        "options": "a\nb",
        "status": "resolved",
        "repo": "",
        "workstream": "",
        "rationale": "because",
        "chosen_option": "c",
        "decided_by": "",
    }

    response = admin_client.post(reverse("admin:hub_decision_change", args=[decision.pk]), form)

    assert response.status_code == 200
    assert "chosen_option" in response.context["adminform"].form.errors
    decision.refresh_from_db()
    assert decision.status == Decision.Status.OPEN
    assert not OutboxEvent.objects.exists()


def test_the_decision_form_refuses_a_repeated_or_over_long_option(admin_client):
    decision = DecisionFactory.create(options=["a"])
    form = {
        "key": decision.key,
        "title": decision.title,
        "question": "",
        "status": "open",
        "repo": "",
        "workstream": "",
        "rationale": "",
        "chosen_option": "",
        "decided_by": "",
    }
    url = reverse("admin:hub_decision_change", args=[decision.pk])

    repeated = admin_client.post(url, {**form, "options": "a\nb\na"})
    too_long = admin_client.post(url, {**form, "options": "a\n" + "x" * 301})

    assert repeated.context["adminform"].form.errors == {"options": ["Options must not repeat."]}
    assert list(too_long.context["adminform"].form.errors) == ["options"]
    decision.refresh_from_db()
    assert decision.options == ["a"]


PLAN = "workplans/CUST-WP-0040-delegate-maintenance.md"


@pytest.fixture
def synced(tmp_path: Any) -> Workstream:
    """CUST-WP-0040 as its workplan file describes it (`active`), with another workstream no file describes."""
    reconcile_repo(repo=register(tmp_path, "clean"), fix=True)
    WorkstreamFactory.create(key="PLAIN-WP-0001", status="active")
    return Workstream.objects.get(key="CUST-WP-0040")


def test_completing_selected_workstreams_a_file_contradicts_asks_first_naming_the_file(admin_client, synced):
    selected = [
        str(pk)
        for pk in Workstream.objects.filter(key__in=["CUST-WP-0040", "PLAIN-WP-0001"]).values_list("pk", flat=True)
    ]
    chosen = Workstream.objects.filter(pk__in=selected)

    response = admin_client.post(
        reverse("admin:hub_workstream_changelist"), {"action": "complete_selected", "_selected_action": selected}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert PLAN in page
    assert "Yes, I\u2019m sure" in page
    assert [c.workstream_key for c in response.context["contradictions"]] == ["CUST-WP-0040"]
    assert set(chosen.values_list("status", flat=True)) == {"active"}
    assert not OutboxEvent.objects.exists()

    response = admin_client.post(
        reverse("admin:hub_workstream_changelist"),
        {"action": "complete_selected", "_selected_action": selected, "despite_workplan": "yes"},
        follow=True,
    )

    assert "2 workstream(s) completed." in response.content.decode()
    assert set(chosen.values_list("status", flat=True)) == {"completed"}
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 2


def test_the_workstream_form_refuses_a_status_its_file_contradicts_unless_the_box_is_ticked(admin_client, synced):
    url = reverse("admin:hub_workstream_change", args=[synced.pk])
    form = _workstream_form(synced, status="completed")

    refused = admin_client.post(url, form)

    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors["status"]
    assert len(errors) == 1 and PLAN in errors[0]
    assert Workstream.objects.get(pk=synced.pk).status == "active"

    accepted = admin_client.post(url, {**form, "despite_workplan": "on"})

    assert accepted.status_code == 302
    assert Workstream.objects.get(pk=synced.pk).status == "completed"
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 1


def test_only_a_workstream_a_file_describes_has_the_despite_workplan_box(admin_client, synced):
    plain = Workstream.objects.get(key="PLAIN-WP-0001")

    with_file = admin_client.get(reverse("admin:hub_workstream_change", args=[synced.pk]))
    without = admin_client.get(reverse("admin:hub_workstream_change", args=[plain.pk]))

    assert "despite_workplan" in with_file.context["adminform"].form.fields
    assert "despite_workplan" not in without.context["adminform"].form.fields


def test_the_decision_form_shows_a_chosen_option_recorded_before_options_were_checked(admin_client):
    decision = DecisionFactory.create(options=["a", "b"], status="resolved", chosen_option="legacy answer")

    form = admin_client.get(reverse("admin:hub_decision_change", args=[decision.pk])).context["adminform"].form

    assert [value for value, _ in form.fields["chosen_option"].choices] == ["", "a", "b", "legacy answer"]
    assert form["chosen_option"].value() == "legacy answer"
