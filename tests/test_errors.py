"""Errors are JSON on every API path: unmatched URL, oversized body, too-deep JSON, a hung statement, a bug."""

import json
import threading
from typing import Any

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from statehub.api.parsers import MAX_JSON_DEPTH
from tests.factories import DecisionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(django_user_model: Any) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(django_user_model.objects.create_superuser("root", password="pw-for-tests-only"))
    return client


def test_an_unmatched_api_path_is_a_json_404(api: APIClient) -> None:
    response = api.get("/no/such/thing/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No API endpoint at /no/such/thing/.", "code": "not_found"}


def test_under_debug_an_unmatched_api_path_is_still_the_json_404(django_user_model: Any, settings: Any) -> None:
    # `serve` runs with DEBUG, where Django would answer with its HTML debug page.
    settings.DEBUG = True
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(django_user_model.objects.create_superuser("root", password="pw-for-tests-only"))

    response = api.get("/no/such/thing/")
    slashless = api.get("/admin")
    found = api.get("/tasks/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No API endpoint at /no/such/thing/.", "code": "not_found"}
    # CommonMiddleware still sees the 404 and sends a path missing its slash to the one that exists.
    assert (slashless.status_code, slashless["Location"]) == (301, "/admin/")
    assert found.status_code == 200


def test_under_debug_the_admin_keeps_its_html_404(admin_client: Any, settings: Any) -> None:
    settings.DEBUG = True

    response = admin_client.get("/admin/hub/no-such-model/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_the_admin_keeps_its_html_404(admin_client: Any) -> None:
    response = admin_client.get("/admin/hub/no-such-model/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_body_over_the_upload_limit_is_a_json_413(api: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"slug": "x", "name": "n" * 2000})

    response = api.post("/domains/", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_json_nested_too_deep_is_a_400(api: APIClient, depth: int) -> None:
    body = "[" * depth + "]" * depth

    response = api.post("/domains/", body, content_type="application/json")

    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]


def test_json_nested_within_the_limit_reaches_the_serializer(api: APIClient) -> None:
    body = json.dumps({"slug": "x", "name": "x", "description": json.loads("[" * 20 + "]" * 20)})

    response = api.post("/domains/", body, content_type="application/json")

    assert response.status_code == 400
    assert "description" in response.json()


def test_an_unexpected_error_is_a_json_500(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.api import views

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.NextStepsView, "get", broken)

    response = api.get("/next-steps/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "server_error"}


def test_connections_carry_the_statement_timeout() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "30s"


@pytest.mark.django_db(transaction=True)
def test_a_statement_over_the_timeout_is_a_503_database_unavailable(api: APIClient) -> None:
    decision = DecisionFactory.create(key="DEC-0001")
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        with psycopg.connect(**params) as other, other.cursor() as cursor:
            cursor.execute("SELECT 1 FROM hub_decision WHERE id = %s FOR UPDATE", [decision.id])
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = '300ms'")
        response = api.post("/decisions/DEC-0001/resolve", {"rationale": "r"}, format="json")
    finally:
        release.set()
        holder.join(10)
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response["Retry-After"]
