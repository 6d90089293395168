"""Every object links to itself, its related objects and its filtered lists; keys stay the identifiers."""

from typing import Any

import pytest
from rest_framework.test import APIClient

import events
from events.models import OutboxEvent
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

BASE = "http://testserver"


@pytest.fixture
def hub() -> dict[str, Any]:
    """A domain with a goal, a repo, a workstream with two tasks, a decision and a progress entry."""
    domain = DomainFactory.create(slug="custodian")
    goal = DomainGoalFactory.create(key="custodian-automation", domain=domain)
    repo = RepoFactory.create(slug="custodian-repo", domain=domain)
    workstream = WorkstreamFactory.create(key="CUST-WP-0040", repo=repo, domain_goal=goal)
    task = TaskFactory.create(key="CUST-WP-0040-T05", workstream=workstream)
    TaskFactory.create(key="CUST-WP-0040-T06", workstream=workstream)
    TaskFactory.create(key="OTHER-WP-0001-T01")
    decision = DecisionFactory.create(key="DEC-0012", repo=repo, workstream=workstream, options=["a", "b"])
    ProgressEventFactory.create(task=task, workstream=workstream)
    return {"domain": domain, "goal": goal, "repo": repo, "workstream": workstream, "task": task, "decision": decision}


def test_a_workstream_links_to_itself_its_repo_domain_goal_and_its_lists(api: APIClient, hub: Any) -> None:
    body = api.get("/workstreams/CUST-WP-0040/").json()

    assert (body["key"], body["repo"], body["domain"], body["domain_goal"]) == (
        "CUST-WP-0040",
        "custodian-repo",
        "custodian",
        "custodian-automation",
    )
    assert body["url"] == f"{BASE}/workstreams/CUST-WP-0040/"
    assert body["repo_url"] == f"{BASE}/repos/custodian-repo/"
    assert body["domain_url"] == f"{BASE}/domains/custodian/"
    assert body["domain_goal_url"] == f"{BASE}/domain-goals/custodian-automation/"
    assert body["tasks_url"] == f"{BASE}/tasks/?workstream=CUST-WP-0040"
    assert body["decisions_url"] == f"{BASE}/decisions/?workstream=CUST-WP-0040"
    assert body["progress_events_url"] == f"{BASE}/progress-events/?workstream=CUST-WP-0040"


def test_following_a_workstreams_links_reaches_its_repo_and_only_its_tasks(api: APIClient, hub: Any) -> None:
    workstream = api.get("/workstreams/CUST-WP-0040/").json()

    repo = api.get(workstream["repo_url"]).json()
    tasks = api.get(workstream["tasks_url"]).json()

    assert repo["slug"] == "custodian-repo"
    assert sorted(task["key"] for task in tasks["results"]) == ["CUST-WP-0040-T05", "CUST-WP-0040-T06"]
    assert all(task["workstream_url"] == workstream["url"] for task in tasks["results"])


@pytest.mark.parametrize(
    ("list_path", "detail_path"),
    [
        ("/domains/", "/domains/custodian/"),
        ("/repos/", "/repos/custodian-repo/"),
        ("/domain-goals/", "/domain-goals/custodian-automation/"),
        ("/workstreams/", "/workstreams/CUST-WP-0040/"),
        ("/tasks/", "/tasks/CUST-WP-0040-T05/"),
        ("/decisions/", "/decisions/DEC-0012/"),
        ("/next-steps/", "/tasks/CUST-WP-0040-T05/"),
    ],
)
def test_each_list_row_links_to_the_objects_own_page(
    list_path: str, detail_path: str, api: APIClient, hub: Any
) -> None:
    rows = api.get(list_path, {"page_size": 100}).json()["results"]

    assert f"{BASE}{detail_path}" in [row["url"] for row in rows]
    for row in rows:
        assert api.get(row["url"]).status_code == 200


def test_every_link_of_every_object_answers(api: APIClient, hub: Any) -> None:
    paths = [
        "/domains/custodian/",
        "/repos/custodian-repo/",
        "/domain-goals/custodian-automation/",
        "/workstreams/CUST-WP-0040/",
        "/tasks/CUST-WP-0040-T05/",
        "/decisions/DEC-0012/",
    ]
    links = {
        name: value
        for path in paths
        for name, value in api.get(path).json().items()
        if name.endswith("url") and name != "remote_url" and value is not None
    }
    links |= {
        name: value for name, value in api.get("/progress-events/").json()["results"][0].items() if name.endswith("url")
    }

    assert {link: api.get(link).status_code for link in links.values()} == dict.fromkeys(links.values(), 200)
    assert links["sync_url"] == f"{BASE}/repos/custodian-repo/sync"
    assert links["resolve_url"] == f"{BASE}/decisions/DEC-0012/resolve"
    assert links["activate_url"] == f"{BASE}/domain-goals/custodian-automation/activate"


def test_the_filtered_lists_of_a_domain_and_a_repo_hold_what_they_name(api: APIClient, hub: Any) -> None:
    domain = api.get("/domains/custodian/").json()
    repo = api.get("/repos/custodian-repo/").json()

    assert [row["slug"] for row in api.get(domain["repos_url"]).json()["results"]] == ["custodian-repo"]
    assert [row["key"] for row in api.get(domain["domain_goals_url"]).json()["results"]] == ["custodian-automation"]
    assert [row["key"] for row in api.get(repo["workstreams_url"]).json()["results"]] == ["CUST-WP-0040"]
    assert [row["key"] for row in api.get(repo["decisions_url"]).json()["results"]] == ["DEC-0012"]
    assert api.get(repo["tasks_url"]).json()["count"] == 2


def test_a_missing_relation_is_a_null_link(api: APIClient) -> None:
    RepoFactory.create(slug="lonely", domain=None)
    DecisionFactory.create(key="DEC-LONE")

    repo = api.get("/repos/lonely/").json()
    decision = api.get("/decisions/DEC-LONE/").json()

    assert (repo["domain"], repo["domain_url"]) == (None, None)
    assert (decision["repo_url"], decision["workstream_url"]) == (None, None)


def test_links_are_made_for_the_host_the_request_came_to(api: APIClient, hub: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["hub.example.org"]

    body = api.get("/tasks/CUST-WP-0040-T05/", HTTP_HOST="hub.example.org").json()

    assert body["url"] == "http://hub.example.org/tasks/CUST-WP-0040-T05/"
    assert body["repo_url"] == "http://hub.example.org/repos/custodian-repo/"


def test_an_outbox_event_links_to_its_page_and_its_requeue_page(staff_api: APIClient) -> None:
    events.record(
        "org.statehub.repo.registered",
        {"repo_id": None, "repo_slug": "r", "domain_slug": None, "remote_url": "", "local_path": "", "name": ""},
    )
    event = OutboxEvent.objects.get()

    body = staff_api.get("/events/").json()["results"][0]

    assert body["url"] == f"{BASE}/events/{event.id}/"
    assert body["requeue_url"] == f"{BASE}/events/{event.id}/requeue"
    assert staff_api.get(body["url"]).json()["id"] == str(event.id)
