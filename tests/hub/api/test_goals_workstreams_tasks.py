"""`/domain-goals/`, `/workstreams/` and `/tasks/`: keys in URLs and bodies, transitions through the services."""

import pytest
from rest_framework.test import APIClient

from events.models import OutboxEvent
from hub.models import DomainGoal, Task, Workstream
from tests.factories import DomainFactory, DomainGoalFactory, RepoFactory, TaskFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db


def test_a_goal_is_created_with_its_domain_slug(api: APIClient) -> None:
    DomainFactory.create(slug="custodian")

    response = api.post(
        "/domain-goals/", {"key": "custodian-automation", "domain": "custodian", "title": "Automate"}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["domain"] == "custodian"
    assert response.json()["status"] == "proposed"


def test_activating_a_goal_supersedes_the_active_one_and_records_one_event(api: APIClient) -> None:
    domain = DomainFactory.create(slug="custodian")
    old = DomainGoalFactory.create(key="old-goal", domain=domain, status="active")
    DomainGoalFactory.create(key="new-goal", domain=domain)

    response = api.post("/domain-goals/new-goal/activate")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "active"
    old.refresh_from_db()
    assert old.status == "superseded"
    event = OutboxEvent.objects.get()
    assert event.subject == "org.statehub.domain.goal.activated"
    assert event.envelope["attributes"]["superseded_goal_key"] == "old-goal"


def test_activate_also_answers_with_a_trailing_slash(api: APIClient) -> None:
    DomainGoalFactory.create(key="g")

    assert api.post("/domain-goals/g/activate/").status_code == 200


def test_activating_an_unknown_goal_is_404(api: APIClient) -> None:
    assert api.post("/domain-goals/nope/activate").status_code == 404


def test_a_workstream_shows_repo_domain_goal_and_task_counts(api: APIClient) -> None:
    repo = RepoFactory.create(slug="state-hub", domain=DomainFactory.create(slug="custodian"))
    goal = DomainGoalFactory.create(key="automation", domain=repo.domain)
    workstream = WorkstreamFactory.create(key="CUST-WP-0040", repo=repo, domain_goal=goal)
    TaskFactory.create(workstream=workstream, status="done")
    TaskFactory.create(workstream=workstream, status="todo")
    TaskFactory.create(workstream=workstream, status="cancel")

    body = api.get("/workstreams/CUST-WP-0040/").json()

    assert body["id"] == str(workstream.id)
    assert (body["repo"], body["domain"], body["domain_goal"]) == ("state-hub", "custodian", "automation")
    assert body["tasks"] == {"total": 3, "open": 1, "wait": 0, "todo": 1, "progress": 0, "done": 1, "cancel": 1}


def test_creating_a_workstream_names_its_repo_by_slug(api: APIClient) -> None:
    RepoFactory.create(slug="state-hub", domain=None)

    response = api.post(
        "/workstreams/", {"key": "HUB-WP-0001", "repo": "state-hub", "title": "Build it", "priority": 1}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["domain"] is None
    assert response.json()["tasks"] == {
        "total": 0,
        "open": 0,
        "wait": 0,
        "todo": 0,
        "progress": 0,
        "done": 0,
        "cancel": 0,
    }
    assert Workstream.objects.get(key="HUB-WP-0001").repo.slug == "state-hub"


def test_completing_a_workstream_by_patch_records_one_event_with_task_counts(api: APIClient) -> None:
    workstream = WorkstreamFactory.create(key="CUST-WP-0040", status="active")
    TaskFactory.create(workstream=workstream, status="done")

    response = api.patch("/workstreams/CUST-WP-0040/", {"status": "completed"}, format="json")
    again = api.patch("/workstreams/CUST-WP-0040/", {"status": "completed"}, format="json")

    assert response.status_code == 200, response.json()
    assert again.status_code == 200
    assert response.json()["completed_at"] is not None
    event = OutboxEvent.objects.get()
    assert event.subject == "org.statehub.workstream.completed"
    assert event.envelope["attributes"]["tasks"] == {"total": 1, "done": 1, "cancel": 0, "open": 0}


def test_older_status_words_are_mapped(api: APIClient) -> None:
    WorkstreamFactory.create(key="W-1", status="active")
    task = TaskFactory.create(key="W-1-T1", status="todo")

    assert api.patch("/workstreams/W-1/", {"status": "finished"}, format="json").json()["status"] == "completed"
    assert api.patch("/tasks/W-1-T1/", {"status": "in_progress"}, format="json").json()["status"] == "progress"
    task.refresh_from_db()
    assert task.status == "progress"


def test_an_unknown_status_word_is_a_field_error(api: APIClient) -> None:
    WorkstreamFactory.create(key="W-1", status="active")

    response = api.patch("/workstreams/W-1/", {"status": "exploded"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["status"]


def test_workstreams_are_filtered_by_repo_domain_status_and_updated_since(api: APIClient) -> None:
    one = RepoFactory.create(slug="one", domain=DomainFactory.create(slug="d1"))
    two = RepoFactory.create(slug="two", domain=DomainFactory.create(slug="d2"))
    WorkstreamFactory.create(key="A", repo=one, status="active")
    WorkstreamFactory.create(key="B", repo=two, status="active")
    WorkstreamFactory.create(key="C", repo=two, status="backlog")

    def keys(query: str) -> list[str]:
        return [w["key"] for w in api.get(f"/workstreams/?{query}").json()["results"]]

    assert keys("repo=two&ordering=key") == ["B", "C"]
    assert keys("domain=d1") == ["A"]
    assert keys("status=backlog") == ["C"]
    assert keys("updated_since=2000-01-01T00:00:00Z&ordering=-key") == ["C", "B", "A"]
    assert keys("updated_since=2999-01-01T00:00:00Z") == []


def test_a_task_is_created_in_a_workstream_by_key(api: APIClient) -> None:
    WorkstreamFactory.create(key="CUST-WP-0040", repo=RepoFactory.create(slug="state-hub"))

    response = api.post(
        "/tasks/",
        {"key": "CUST-WP-0040-T05", "workstream": "CUST-WP-0040", "title": "Write it", "priority": "high"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["workstream"], body["repo"], body["priority"], body["status"]) == (
        "CUST-WP-0040",
        "state-hub",
        "high",
        "todo",
    )
    assert Task.objects.get(key="CUST-WP-0040-T05").last_activity_at is not None


def test_tasks_are_filtered_by_workstream_status_priority_and_assignee(api: APIClient) -> None:
    workstream = WorkstreamFactory.create(key="W")
    TaskFactory.create(key="T1", workstream=workstream, status="todo", priority="high", assignee="ann")
    TaskFactory.create(key="T2", workstream=workstream, status="done", priority="low", assignee="bob")
    TaskFactory.create(key="T3", status="todo", priority="high", assignee="ann")

    def keys(query: str) -> list[str]:
        return sorted(t["key"] for t in api.get(f"/tasks/?{query}").json()["results"])

    assert keys("workstream=W") == ["T1", "T2"]
    assert keys("status=todo&priority=high") == ["T1", "T3"]
    assert keys("assignee=bob") == ["T2"]


def test_a_task_cannot_move_to_an_unknown_workstream(api: APIClient) -> None:
    TaskFactory.create(key="T1")

    response = api.patch("/tasks/T1/", {"workstream": "NOPE"}, format="json")

    assert response.status_code == 400
    assert "workstream" in response.json()


def test_unknown_goal_workstream_and_task_keys_answer_404(api: APIClient) -> None:
    assert api.get("/domain-goals/nope/").status_code == 404
    assert api.get("/workstreams/NOPE/").status_code == 404
    assert api.patch("/tasks/NOPE/", {"title": "x"}, format="json").status_code == 404


def test_patching_a_goal_to_active_goes_through_activation(api: APIClient) -> None:
    DomainGoalFactory.create(key="g")

    response = api.patch("/domain-goals/g/", {"status": "active"}, format="json")

    assert response.status_code == 200, response.json()
    assert DomainGoal.objects.get(key="g").activated_at is not None
    assert OutboxEvent.objects.get().subject == "org.statehub.domain.goal.activated"
