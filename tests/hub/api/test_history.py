"""GET /<objects>/{key}/history/: an object's changes, newest first, with time, user, door and changed fields."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hub import history, services
from hub.models import Workstream
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    RepoFactory,
    TaskFactory,
    WorkstreamFactory,
)
from tests.queries import THROTTLE_QUERIES

pytestmark = pytest.mark.django_db

OBJECTS = [
    ("domains", lambda: DomainFactory.create(slug="custodian").slug),
    ("repos", lambda: RepoFactory.create(slug="state-hub").slug),
    ("domain-goals", lambda: DomainGoalFactory.create(key="custodian-automation").key),
    ("workstreams", lambda: WorkstreamFactory.create(key="CUST-WP-0040").key),
    ("tasks", lambda: TaskFactory.create(key="CUST-WP-0040-T01").key),
    ("decisions", lambda: DecisionFactory.create(key="DEC-0012").key),
]


@pytest.mark.parametrize(("collection", "make"), OBJECTS, ids=[name for name, _ in OBJECTS])
def test_every_keyed_object_has_a_history_readable_by_any_signed_in_user(
    reader_api: APIClient, collection: str, make: Any
) -> None:
    key = make()

    response = reader_api.get(f"/{collection}/{key}/history/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 1 and body["previous"] is None
    (entry,) = body["results"]
    assert set(entry) == {"time", "user", "door", "change", "changed_fields", "changes"}
    assert entry["change"] == "created"


def test_the_history_is_newest_first_with_user_door_and_old_and_new_values(api: APIClient, writer: User) -> None:
    repo = RepoFactory.create(slug="state-hub")
    other = RepoFactory.create(slug="other-repo")
    api.post("/workstreams/", {"key": "CUST-WP-0040", "repo": repo.slug, "title": "First"}, format="json")
    api.patch("/workstreams/CUST-WP-0040/", {"title": "Second", "status": "active"}, format="json")
    with history.door(history.Door.SYNC):
        services.workstream_update(workstream=Workstream.objects.get(key="CUST-WP-0040"), data={"repo": other})

    body = api.get("/workstreams/CUST-WP-0040/history/").json()

    sync, change, creation = body["results"]
    assert (sync["change"], sync["door"], sync["user"]) == ("changed", "sync", None)
    assert sync["changes"] == [{"field": "repo", "old": "state-hub", "new": "other-repo"}]
    assert (change["change"], change["door"], change["user"]) == ("changed", "api", "writer")
    assert change["changed_fields"] == ["status", "title"]
    assert {item["field"]: (item["old"], item["new"]) for item in change["changes"]} == {
        "status": ("proposed", "active"),
        "title": ("First", "Second"),
    }
    assert (creation["change"], creation["door"], creation["user"]) == ("created", "api", "writer")
    created = {item["field"]: (item["old"], item["new"]) for item in creation["changes"]}
    assert created["title"] == (None, "First") and created["repo"] == (None, "state-hub")
    times = [dt.datetime.fromisoformat(entry["time"]) for entry in (sync, change, creation)]
    assert times == sorted(times, reverse=True)


def test_the_history_is_paginated_and_diffs_the_oldest_entry_of_a_page_against_the_next_page(
    api: APIClient,
) -> None:
    TaskFactory.create(key="CUST-WP-0040-T01", title="v0")
    for number in range(1, 5):
        api.patch("/tasks/CUST-WP-0040-T01/", {"title": f"v{number}"}, format="json")

    first = api.get("/tasks/CUST-WP-0040-T01/history/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert first["count"] == 5
    assert [entry["changes"] for entry in first["results"]] == [
        [{"field": "title", "old": "v3", "new": "v4"}],
        [{"field": "title", "old": "v2", "new": "v3"}],
    ]
    assert [entry["changes"] for entry in second["results"]] == [
        [{"field": "title", "old": "v1", "new": "v2"}],
        [{"field": "title", "old": "v0", "new": "v1"}],  # against the creation, on the next page
    ]


def test_the_history_runs_a_constant_number_of_queries(api: APIClient, django_assert_max_num_queries: Any) -> None:
    TaskFactory.create(key="CUST-WP-0040-T01")
    workstreams = WorkstreamFactory.create_batch(3)
    for workstream in workstreams:
        api.patch("/tasks/CUST-WP-0040-T01/", {"workstream": workstream.key}, format="json")

    # Auth (token, user), the task, the count, the page, the row before it, the related workstreams.
    with django_assert_max_num_queries(8 + THROTTLE_QUERIES):
        response = api.get("/tasks/CUST-WP-0040-T01/history/")

    assert [entry["changes"][0]["new"] for entry in response.json()["results"][:3]] == [
        workstreams[2].key,
        workstreams[1].key,
        workstreams[0].key,
    ]


def test_the_history_of_an_unknown_object_is_404_and_needs_a_signed_in_caller(
    api: APIClient, anon_api: APIClient
) -> None:
    DomainFactory.create(slug="custodian")

    assert api.get("/domains/ghost/history/").status_code == 404
    assert anon_api.get("/domains/custodian/history/").status_code == 401
    assert api.post("/domains/custodian/history/", {}, format="json").status_code == 405


def test_the_history_page_renders_in_the_browsable_api(api: APIClient) -> None:
    TaskFactory.create(key="CUST-WP-0040-T01")

    response = api.get("/tasks/CUST-WP-0040-T01/history/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert "Task History" in response.content.decode()
