"""`/decisions/` (+ resolve), `/progress-events/` and `/next-steps/`."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import OutboxEvent
from hub.models import Decision, ProgressEvent
from tests.factories import DecisionFactory, RepoFactory, TaskFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db


def test_a_decision_is_created_with_repo_and_workstream_keys(api: APIClient) -> None:
    RepoFactory.create(slug="state-hub")
    WorkstreamFactory.create(key="W-1")

    response = api.post(
        "/decisions/",
        {
            "key": "DEC-0012",
            "title": "Which broker?",
            "options": ["redis", "rabbit"],
            "repo": "state-hub",
            "workstream": "W-1",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["repo"], body["workstream"], body["options"], body["status"]) == (
        "state-hub",
        "W-1",
        ["redis", "rabbit"],
        "open",
    )


def test_resolving_records_the_event_a_milestone_and_defaults_decided_by_to_the_caller(api: APIClient) -> None:
    DecisionFactory.create(key="DEC-1", options=["left", "right"], workstream=WorkstreamFactory.create(key="W-1"))

    response = api.post("/decisions/DEC-1/resolve", {"rationale": "Shorter.", "chosen_option": "left"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["chosen_option"], body["decided_by"]) == ("resolved", "left", "writer")
    event = OutboxEvent.objects.get()
    assert event.subject == "org.statehub.decision.resolved"
    assert event.envelope["attributes"]["workstream_key"] == "W-1"
    milestone = ProgressEvent.objects.get()
    assert (milestone.event_type, milestone.author) == ("milestone", "writer")


def test_chosen_option_is_null_until_one_is_chosen_as_in_mcp_and_the_event(api: APIClient) -> None:
    DecisionFactory.create(key="DEC-1", options=["left", "right"])
    DecisionFactory.create(key="DEC-2", options=["left", "right"])

    open_one = api.get("/decisions/DEC-1/").json()
    resolved = api.post("/decisions/DEC-1/resolve", {"rationale": "Neither fits."}, format="json").json()
    chosen = api.post("/decisions/DEC-2/resolve", {"rationale": "Short.", "chosen_option": "left"}, format="json")
    listed = {item["key"]: item["chosen_option"] for item in api.get("/decisions/").json()["results"]}

    assert open_one["chosen_option"] is None
    assert (resolved["status"], resolved["chosen_option"]) == ("resolved", None)
    assert chosen.json()["chosen_option"] == "left"
    assert listed == {"DEC-1": None, "DEC-2": "left"}
    assert (
        OutboxEvent.objects.get(envelope__attributes__decision_key="DEC-1").envelope["attributes"]["chosen_option"]
        is None
    )


def test_resolving_twice_is_409_and_records_one_event(api: APIClient) -> None:
    DecisionFactory.create(key="DEC-1")

    first = api.post("/decisions/DEC-1/resolve", {"rationale": "Because.", "decided_by": "ann"}, format="json")
    second = api.post("/decisions/DEC-1/resolve/", {"rationale": "Again.", "decided_by": "bob"}, format="json")

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["code"] == "invalid_transition"
    assert set(second.json()) == {"detail", "code"}
    assert OutboxEvent.objects.count() == 1
    assert Decision.objects.get(key="DEC-1").decided_by == "ann"


def test_a_chosen_option_not_offered_is_a_field_error(api: APIClient) -> None:
    DecisionFactory.create(key="DEC-1", options=["left", "right"])

    response = api.post("/decisions/DEC-1/resolve", {"rationale": "x", "chosen_option": "up"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["chosen_option"]
    assert Decision.objects.get(key="DEC-1").status == "open"
    assert not OutboxEvent.objects.exists()


def test_resolving_without_a_rationale_is_a_field_error(api: APIClient) -> None:
    DecisionFactory.create(key="DEC-1")

    response = api.post("/decisions/DEC-1/resolve", {}, format="json")

    assert response.status_code == 400
    assert "rationale" in response.json()


def test_resolving_an_unknown_decision_is_404(api: APIClient) -> None:
    assert api.post("/decisions/DEC-404/resolve", {"rationale": "x"}, format="json").status_code == 404


def test_escalating_a_decision_by_patch(api: APIClient) -> None:
    DecisionFactory.create(key="DEC-1")

    response = api.patch("/decisions/DEC-1/", {"status": "escalated"}, format="json")

    assert response.status_code == 200
    assert Decision.objects.get(key="DEC-1").status == "escalated"


def test_progress_events_are_appended_and_listed_newest_first(api: APIClient) -> None:
    task = TaskFactory.create(key="W-1-T1", workstream=WorkstreamFactory.create(key="W-1"))

    first = api.post("/progress-events/", {"summary": "Started", "task": "W-1-T1"}, format="json")
    second = api.post(
        "/progress-events/", {"summary": "Blocked", "event_type": "blocker", "author": "ann"}, format="json"
    )

    assert first.status_code == 201, first.json()
    assert (first.json()["workstream"], first.json()["author"]) == ("W-1", "writer")
    assert second.json()["author"] == "ann"
    listed = api.get("/progress-events/").json()
    assert [item["summary"] for item in listed["results"]] == ["Blocked", "Started"]
    assert api.get("/progress-events/?task=W-1-T1").json()["count"] == 1
    assert ProgressEvent.objects.get(summary="Started").task_id == task.id


def test_progress_events_cannot_be_patched_or_read_one_by_one(api: APIClient) -> None:
    event = api.post("/progress-events/", {"summary": "x"}, format="json").json()

    assert api.patch("/progress-events/", {"summary": "y"}, format="json").status_code == 405
    assert api.get(f"/progress-events/{event['id']}/").status_code == 404


def test_next_steps_list_open_tasks_of_active_workstreams_with_reasons(api: APIClient) -> None:
    repo = RepoFactory.create(slug="state-hub")
    boosted = WorkstreamFactory.create(key="W-BOOST", repo=repo, priority=50)
    plain = WorkstreamFactory.create(key="W-PLAIN", repo=repo, priority=1)
    paused = WorkstreamFactory.create(key="W-PAUSED", repo=repo, status="backlog")
    DecisionFactory.create(workstream=boosted, status="resolved", resolved_at=timezone.now() - dt.timedelta(days=1))
    TaskFactory.create(key="B-1", workstream=boosted, status="progress")
    TaskFactory.create(key="P-1", workstream=plain, status="progress")
    TaskFactory.create(key="P-2", workstream=plain, status="todo")
    TaskFactory.create(key="P-3", workstream=plain, status="wait")
    TaskFactory.create(key="X-1", workstream=paused, status="todo")

    results = api.get("/next-steps/").json()["results"]

    assert [(item["key"], item["reason"]) for item in results] == [
        ("B-1", "decision_resolved"),
        ("P-2", "ready"),
        ("P-1", "in_progress"),
    ]
    assert results[0]["workstream"] == "W-BOOST"
    assert results[0]["repo"] == "state-hub"
    assert [item["key"] for item in api.get("/next-steps/?workstream=W-PLAIN").json()["results"]] == ["P-2", "P-1"]
    assert api.get("/next-steps/?repo=elsewhere").json()["count"] == 0


@pytest.mark.parametrize(("parameter", "value"), [("ordering", "-priority"), ("search", "rotate")])
def test_next_steps_refuse_an_ordering_or_a_search_they_do_not_offer(
    api: APIClient, parameter: str, value: str
) -> None:
    TaskFactory.create(workstream=WorkstreamFactory.create(status="active"), status="todo")

    response = api.get("/next-steps/", {parameter: value, "repo": "state-hub"})

    assert response.status_code == 400
    assert list(response.json()) == [parameter]
    assert "next-step order" in response.json()[parameter][0]
    assert api.get("/next-steps/").json()["count"] == 1
