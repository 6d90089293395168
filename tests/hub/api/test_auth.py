"""Authentication and permissions: 401 anonymous, 403 read-only on writes, 405 for PUT/DELETE."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from events.models import OutboxEvent
from hub.models import Decision, DomainGoal
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    RepoFactory,
    TaskFactory,
    WorkstreamFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(db: None) -> dict[str, Any]:
    """One object of each kind, named by the keys the paths below use."""
    domain = DomainFactory.create(slug="dom")
    repo = RepoFactory.create(slug="rep", domain=domain)
    workstream = WorkstreamFactory.create(key="WS", repo=repo)
    return {
        "goal": DomainGoalFactory.create(key="goal", domain=domain),
        "task": TaskFactory.create(key="TK", workstream=workstream),
        "decision": DecisionFactory.create(key="DEC"),
    }


READ_PATHS = [
    "/",
    "/domains/",
    "/domains/dom/",
    "/repos/",
    "/repos/rep/",
    "/domain-goals/",
    "/domain-goals/goal/",
    "/workstreams/",
    "/workstreams/WS/",
    "/tasks/",
    "/tasks/TK/",
    "/decisions/",
    "/decisions/DEC/",
    "/progress-events/",
    "/next-steps/",
    "/events/",
    "/schema/",
]

WRITES = [
    ("post", "/domains/", {"slug": "new", "name": "New"}),
    ("patch", "/domains/dom/", {"name": "Renamed"}),
    ("post", "/repos/", {"slug": "new"}),
    ("patch", "/repos/rep/", {"name": "Renamed"}),
    ("post", "/domain-goals/", {"key": "new", "domain": "dom", "title": "t"}),
    ("patch", "/domain-goals/goal/", {"title": "Renamed"}),
    ("post", "/domain-goals/goal/activate", None),
    ("post", "/workstreams/", {"key": "NEW", "repo": "rep", "title": "t"}),
    ("patch", "/workstreams/WS/", {"title": "Renamed"}),
    ("post", "/tasks/", {"key": "NEW", "workstream": "WS", "title": "t"}),
    ("patch", "/tasks/TK/", {"title": "Renamed"}),
    ("post", "/decisions/", {"key": "NEW", "title": "t"}),
    ("patch", "/decisions/DEC/", {"title": "Renamed"}),
    ("post", "/decisions/DEC/resolve", {"rationale": "r"}),
    ("post", "/progress-events/", {"summary": "s"}),
]


@pytest.mark.parametrize("path", READ_PATHS)
def test_reads_need_authentication(path: str, anon_api: APIClient, reader_api: APIClient, objects: Any) -> None:
    anonymous = anon_api.get(path)

    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert reader_api.get(path).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_writes_need_authentication(method: str, path: str, body: Any, anon_api: APIClient, objects: Any) -> None:
    assert getattr(anon_api, method)(path, body, format="json").status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_read_only_user_gets_403_on_writes_and_changes_nothing(
    method: str, path: str, body: Any, reader_api: APIClient, objects: Any
) -> None:
    response = getattr(reader_api, method)(path, body, format="json")

    assert response.status_code == 403
    assert DomainGoal.objects.get(key="goal").status == "proposed"
    assert Decision.objects.get(key="DEC").status == "open"
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_user_with_the_model_permission_may_write(
    method: str, path: str, body: Any, api: APIClient, objects: Any
) -> None:
    response = getattr(api, method)(path, body, format="json")

    assert response.status_code in (200, 201), response.json()


def test_resolving_needs_the_change_permission_not_the_add_permission(
    make_user: Callable[..., User], objects: Any
) -> None:
    from django.contrib.auth.models import Permission

    from tests.hub.api.conftest import client_for

    adder = make_user("adder")
    adder.user_permissions.add(Permission.objects.get(codename="add_decision"))

    response = client_for(adder).post("/decisions/DEC/resolve", {"rationale": "r"}, format="json")

    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/domains/dom/", "/tasks/TK/", "/decisions/DEC/", "/domains/"])
@pytest.mark.parametrize("method", ["put", "delete"])
def test_put_and_delete_are_not_allowed(method: str, path: str, api: APIClient, objects: Any) -> None:
    assert getattr(api, method)(path, {}, format="json").status_code == 405


def test_session_login_works_for_the_browsable_api(writer: User, objects: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(writer)

    page = client.get("/workstreams/", HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    assert b"WS" in page.content
    assert b"<form" in page.content


def test_the_login_page_of_the_browsable_api_is_served(anon_api: APIClient) -> None:
    assert anon_api.get("/api-auth/login/").status_code == 200


def test_docs_page_uses_local_assets(reader_api: APIClient) -> None:
    page = reader_api.get("/docs/")

    assert page.status_code == 200
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in page.content
    assert b"cdn.jsdelivr" not in page.content


def test_the_browsable_api_offers_a_resolution_form_for_resolve(writer: User, objects: Any) -> None:
    client = APIClient()
    client.force_login(writer)

    page = client.get("/decisions/DEC/resolve", HTTP_ACCEPT="text/html")

    assert page.status_code == 200  # GET shows the decision as it is, and the resolution form
    assert b'name="rationale"' in page.content
    assert b'name="question"' not in page.content


def test_a_logged_in_browser_can_post_through_the_session(writer: User, objects: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(writer)
    client.get("/api-auth/login/")
    token = client.cookies["csrftoken"].value

    response = client.post("/progress-events/", {"summary": "from the browser"}, format="json", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 201, response.content
    assert response.json()["author"] == "writer"


def test_the_browsable_api_form_encoding_is_accepted(api: APIClient, objects: Any) -> None:
    response = api.post(
        "/decisions/",
        {"key": "DEC-FORM", "title": "From a form", "options": ["left", "right"], "repo": "", "workstream": "WS"},
    )

    assert response.status_code == 201, response.content
    assert response.json()["options"] == ["left", "right"]
    assert response.json()["repo"] is None
