"""Bad input answers 400 or 404 with a clear body, never a 500."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from hub.models import Domain
from tests.factories import DecisionFactory, DomainFactory, TaskFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db


def test_malformed_json_is_400(api: APIClient) -> None:
    response = api.post("/domains/", '{"slug": "x", ', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_a_body_that_is_not_an_object_is_400(api: APIClient) -> None:
    response = api.post("/domains/", ["slug", "x"], format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"slug": ["a", "b"], "name": "x"},
        {"slug": {"a": 1}, "name": "x"},
        {"slug": 12, "name": ["x"]},
        {"slug": None, "name": "x"},
        {"slug": "x", "name": "x", "status": ["active"]},
        {"slug": "x", "name": "x", "status": 3},
    ],
)
def test_wrong_types_are_field_errors(body: dict[str, Any], api: APIClient) -> None:
    response = api.post("/domains/", body, format="json")

    assert response.status_code == 400, response.content
    assert not Domain.objects.exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/repos/", {"slug": "r", "domain": ["custodian"]}),
        ("/repos/", {"slug": "r", "domain": {"slug": "custodian"}}),
        ("/repos/", {"slug": "r", "domain": 1}),
        ("/tasks/", {"key": "T", "title": "t", "workstream": ["W"]}),
        ("/workstreams/", {"key": "W2", "title": "t", "repo": "r", "priority": "high"}),
        ("/workstreams/", {"key": "W2", "title": "t", "repo": "r", "priority": 2**40}),
        ("/tasks/", {"key": "T", "title": "t", "workstream": "W", "order": 2**63}),
        ("/decisions/", {"key": "D", "title": "t", "options": "left"}),
        ("/decisions/", {"key": "D", "title": "t", "options": [1, 2]}),
        ("/decisions/", {"key": "D", "title": "t", "options": ["a", "a"]}),
        ("/progress-events/", {"summary": "s", "event_type": "party"}),
        ("/progress-events/", {"summary": "x" * 501}),
    ],
)
def test_wrong_relation_and_value_types_are_field_errors(path: str, body: dict[str, Any], api: APIClient) -> None:
    DomainFactory.create(slug="custodian")
    WorkstreamFactory.create(key="W")

    response = api.post(path, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/domains/", {"slug": "x", "name": "nul\x00here"}),
        ("/repos/", {"slug": "r", "domain": "cus\x00todian"}),
        ("/tasks/", {"key": "T\x00", "title": "t", "workstream": "W"}),
        ("/decisions/", {"key": "D", "title": "t", "options": ["a\x00"]}),
        ("/progress-events/", {"summary": "s", "workstream": "W\x00"}),
    ],
)
def test_nul_characters_in_bodies_are_field_errors(path: str, body: dict[str, Any], api: APIClient) -> None:
    DomainFactory.create(slug="custodian")
    WorkstreamFactory.create(key="W")

    response = api.post(path, body, format="json")

    assert response.status_code == 400, response.content


def test_nul_characters_in_keys_and_queries_never_500(api: APIClient) -> None:
    assert api.get("/domains/a%00b/").status_code == 404
    assert api.patch("/tasks/T%00/", {"title": "x"}, format="json").status_code == 404
    assert api.get("/tasks/?assignee=a%00b").status_code == 400
    assert api.get("/next-steps/?repo=a%00b").status_code == 400
    assert api.get("/events/?type=a%00b").status_code == 400
    assert api.post("/decisions/D%00/resolve", {"rationale": "x"}, format="json").status_code == 404


def test_resolve_with_nul_in_the_rationale_is_a_field_error(api: APIClient) -> None:
    DecisionFactory.create(key="DEC-1")

    response = api.post("/decisions/DEC-1/resolve", {"rationale": "a\x00b"}, format="json")

    assert response.status_code == 400
    assert "rationale" in response.json()


@pytest.mark.parametrize(
    "query",
    [
        "updated_since=yesterday",
        "updated_since=2026-13-45T99:00:00Z",
        "status=exploded",
        "priority=urgent",
        "updated_since=99999-01-01",
    ],
)
def test_bad_filters_are_400(query: str, api: APIClient) -> None:
    response = api.get(f"/tasks/?{query}")

    assert response.status_code == 400, response.content
    assert response.json()


@pytest.mark.parametrize("query", ["page=999999999999999999999", "page=0", "page=-1", "page=abc"])
def test_pages_that_do_not_exist_are_404(query: str, api: APIClient) -> None:
    TaskFactory.create()

    response = api.get(f"/tasks/?{query}")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_page_size_is_capped_at_500_and_bad_values_fall_back(api: APIClient) -> None:
    TaskFactory.create()

    assert api.get("/tasks/?page_size=100000").status_code == 200
    assert api.get("/tasks/?page_size=-5").json()["count"] == 1
    assert api.get("/tasks/?page_size=lots").status_code == 200


def test_unknown_ordering_fields_are_a_400_naming_them(api: APIClient) -> None:
    TaskFactory.create()

    response = api.get("/tasks/?ordering=password,-nope,key")

    assert response.status_code == 400
    assert "password, -nope" in response.json()["ordering"][0]
    assert api.get("/tasks/?ordering=key").status_code == 200


def test_workstream_priority_filter_out_of_range_is_400(api: APIClient) -> None:
    assert api.get("/workstreams/?priority=1e30").status_code == 400
    assert api.get("/workstreams/?priority=1").status_code == 200


def test_extreme_dates_in_filters_do_not_500(api: APIClient) -> None:
    assert api.get("/tasks/", {"updated_since": "9999-12-31T23:59:59-14:00"}).status_code in (200, 400)
    assert api.get("/tasks/", {"updated_since": "0001-01-01T00:00:00+14:00"}).status_code in (200, 400)


def test_unsupported_media_type_is_415(api: APIClient) -> None:
    response = api.post("/domains/", "slug=x", content_type="text/plain")

    assert response.status_code == 415
