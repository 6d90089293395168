"""Every list takes `?search=` (key and title, or slug and name) and `?ordering=`, documented in the schema."""

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from hub.models import Decision, ProgressEvent, Task, Workstream
from tests.factories import DecisionFactory, ProgressEventFactory, RepoFactory, TaskFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db

LISTS = ["/domains/", "/repos/", "/domain-goals/", "/workstreams/", "/tasks/", "/decisions/", "/progress-events/"]


def keys(response: Any, field: str = "key") -> list[str]:
    assert response.status_code == 200, response.content
    return [item[field] for item in response.json()["results"]]


def test_search_matches_the_key_or_the_title_case_insensitively(api: APIClient) -> None:
    WorkstreamFactory(key="CUST-WP-0001", title="Delegate maintenance")
    WorkstreamFactory(key="CUST-WP-0002", title="Write the protocol")
    WorkstreamFactory(key="OPS-WP-0003", title="Unrelated")

    assert keys(api.get("/workstreams/?search=maintenance")) == ["CUST-WP-0001"]
    assert sorted(keys(api.get("/workstreams/?search=cust-wp"))) == ["CUST-WP-0001", "CUST-WP-0002"]


def test_search_works_on_tasks_decisions_and_repos(api: APIClient) -> None:
    TaskFactory(key="T-1", title="Rotate the keys")
    TaskFactory(key="T-2", title="Other")
    DecisionFactory(key="DEC-0001", title="Choose a broker")
    RepoFactory(slug="state-hub", name="State Hub")
    RepoFactory(slug="other", name="Other")

    assert keys(api.get("/tasks/?search=rotate")) == ["T-1"]
    assert keys(api.get("/decisions/?search=broker")) == ["DEC-0001"]
    assert keys(api.get("/repos/?search=hub"), field="slug") == ["state-hub"]


def test_ordering_sorts_a_list_either_way(api: APIClient) -> None:
    for key, title in [("A-1", "beta"), ("A-2", "alpha"), ("A-3", "gamma")]:
        DecisionFactory(key=key, title=title)

    assert keys(api.get("/decisions/?ordering=title")) == ["A-2", "A-1", "A-3"]
    assert keys(api.get("/decisions/?ordering=-title")) == ["A-3", "A-1", "A-2"]


def test_every_list_documents_search_and_ordering_in_the_schema(api: APIClient) -> None:
    schema = api.get("/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    for path in LISTS:
        parameters = {parameter["name"] for parameter in schema["paths"][path]["get"]["parameters"]}
        assert {"search", "ordering"} <= parameters, path


def test_ordering_by_a_field_the_list_does_not_offer_is_a_400_naming_the_offered_ones(api: APIClient) -> None:
    response = api.get("/tasks/?ordering=blocking_reason")

    assert response.status_code == 400
    message = response.json()["ordering"][0]
    assert "blocking_reason" in message
    assert "title" in message and "priority" in message


def test_pages_of_an_order_with_ties_neither_repeat_nor_skip_a_row(api: APIClient) -> None:
    workstream = WorkstreamFactory()
    for number in range(30):
        TaskFactory(workstream=workstream, key=f"T-{number:02d}", priority="high")

    first = keys(api.get("/tasks/?ordering=priority&page_size=10"))
    pages = [first, *(keys(api.get(f"/tasks/?ordering=priority&page_size=10&page={page}")) for page in (2, 3))]

    assert [key for page in pages for key in page] == [f"T-{number:02d}" for number in range(30)]
    # Descending ends with the key descending too, so one index read backwards serves it.
    assert keys(api.get("/tasks/?ordering=-priority&page_size=3")) == ["T-29", "T-28", "T-27"]


def test_the_outbox_orders_by_creation_time_only(api: APIClient) -> None:
    assert api.get("/events/?ordering=-created_at").status_code == 200
    assert api.get("/events/?ordering=attempts").status_code == 400


def test_every_term_of_a_search_must_match_the_key_or_the_title(api: APIClient) -> None:
    TaskFactory(key="ROT-T01", title="Rotate the signing keys")
    TaskFactory(key="ROT-T02", title="Rotate the tyres")

    assert keys(api.get("/tasks/", {"search": "rotate signing keys rot-t01"})) == ["ROT-T01"]
    assert keys(api.get("/tasks/", {"search": '"the tyres"'})) == ["ROT-T02"]


@pytest.mark.parametrize("path", LISTS)
def test_a_search_of_1900_terms_is_a_400_naming_the_limit_before_any_row_is_read(api: APIClient, path: str) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path, {"search": " ".join(["a"] * 1900)})

    assert response.status_code == 400
    assert response.json() == {
        "search": ["A search takes at most 8 terms (separated by spaces or commas); this one has 1900."]
    }
    # The token lookup reads the token and its user; nothing reads another hub table.
    assert not [
        query["sql"]
        for query in queries.captured_queries
        if '"hub_' in query["sql"] and not query["sql"].startswith(('SELECT "hub_apitoken"', 'UPDATE "hub_apitoken"'))
    ]


def test_a_term_too_short_for_the_search_index_is_a_400_naming_the_minimum(api: APIClient) -> None:
    response = api.get("/tasks/", {"search": "rotate ab"})

    assert response.status_code == 400
    assert "at least 3 letters or digits" in response.json()["search"][0]
    assert "'ab'" in response.json()["search"][0]


def test_a_nul_in_a_search_is_the_json_error_object(api: APIClient) -> None:
    response = api.get("/tasks/?search=%00")

    assert response.status_code == 400
    assert response.json() == {"search": ["A search cannot contain a NUL character."]}


def test_a_list_that_searches_nothing_refuses_a_search_instead_of_ignoring_it(api: APIClient) -> None:
    response = api.get("/events/", {"search": "repo"})

    assert response.status_code == 400
    assert "no search" in response.json()["search"][0]
    assert api.get("/events/", {"search": ""}).status_code == 200


def test_a_tasks_priority_orders_by_rank_and_its_status_by_lifecycle(api: APIClient) -> None:
    workstream = WorkstreamFactory()
    # Keys in the reverse of the expected order, so neither the alphabet nor the key can pass for the rank.
    for number, priority in enumerate(reversed(Task.Priority.values)):
        TaskFactory(workstream=workstream, key=f"PRI-{number}", priority=priority)
    for number, status in enumerate(reversed(Task.Status.values)):
        TaskFactory(workstream=workstream, key=f"STA-{number}", status=status, priority="critical")

    by_priority = api.get("/tasks/?ordering=priority&search=PRI-").json()["results"]
    by_status = api.get("/tasks/?ordering=status&search=STA-").json()["results"]

    assert [task["priority"] for task in by_priority] == ["low", "medium", "high", "critical"]
    assert [task["status"] for task in by_status] == ["wait", "todo", "progress", "done", "cancel"]
    assert [task["priority"] for task in api.get("/tasks/?ordering=-priority&search=PRI-").json()["results"]] == [
        "critical",
        "high",
        "medium",
        "low",
    ]


@pytest.mark.parametrize(
    ("path", "field", "model", "make"),
    [
        ("/workstreams/", "status", Workstream, lambda value, n: WorkstreamFactory(key=f"W-{n}", status=value)),
        ("/decisions/", "status", Decision, lambda value, n: DecisionFactory(key=f"D-{n}", status=value)),
        ("/progress-events/", "event_type", ProgressEvent, lambda value, n: ProgressEventFactory(event_type=value)),
    ],
)
def test_every_choice_field_orders_by_its_choices_order(api: APIClient, path, field, model, make) -> None:
    values = model._meta.get_field(field).choices
    for number, (value, _) in enumerate(reversed(values)):
        make(value, number)

    ascending = [item[field] for item in api.get(f"{path}?ordering={field}").json()["results"]]
    descending = [item[field] for item in api.get(f"{path}?ordering=-{field}").json()["results"]]

    assert ascending == [value for value, _ in values]
    assert descending == ascending[::-1]


@pytest.mark.parametrize(
    ("path", "index"),
    [
        ("/tasks/?ordering=priority", "task_priority_rank_key_idx"),
        ("/tasks/?ordering=-status", "task_status_rank_key_idx"),
        ("/progress-events/?ordering=-event_type", "progress_type_rank_id_idx"),
        # The admin's task changelist sorted by its status column (4), then descending by priority (-5).
        ("/admin/hub/task/?o=4", "task_status_rank_key_idx"),
        ("/admin/hub/task/?o=-5", "task_priority_rank_key_idx"),
    ],
)
def test_a_choice_ordering_is_read_from_its_rank_index(
    api: APIClient, admin_client: Any, path: str, index: str
) -> None:
    TaskFactory.create_batch(3)
    ProgressEventFactory.create_batch(3)
    with CaptureQueriesContext(connection) as queries:
        assert (admin_client if path.startswith("/admin/") else api).get(path).status_code == 200
    table = "hub_progressevent" if "progress" in path else "hub_task"
    page = next(
        q["sql"]
        for q in queries.captured_queries
        if f'FROM "{table}"' in q["sql"] and "ORDER BY" in q["sql"] and "COUNT(" not in q["sql"]
    )

    with transaction.atomic(), connection.cursor() as cursor:
        # On a few rows a sort is cheaper; forbidding it shows whether the index matches the query's expression.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {page}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert f"Index Scan Backward using {index}" in plan or f"Index Scan using {index}" in plan, plan
    assert "Sort" not in plan, plan
