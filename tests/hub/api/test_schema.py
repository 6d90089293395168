"""The OpenAPI schema validates, and the API answers fuzzed requests generated from it without a 5xx."""

import contextlib
import functools
import os
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from events.models import OutboxEvent
from hub.models import Task
from hub.services import repo_register
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    TaskFactory,
    WorkstreamFactory,
)
from tests.tokens import token_for


def test_the_schema_validates_without_warnings(tmp_path: Any) -> None:
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert "/decisions/{key}/resolve:" in target.read_text()


@pytest.mark.django_db
def test_the_schema_is_served_and_documents_every_endpoint(reader_api: APIClient) -> None:
    schema = reader_api.get("/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert set(schema["paths"]) == {
        "/domains/",
        "/domains/{slug}/",
        "/domains/{slug}/members/",
        "/tokens/",
        "/tokens/{name}/",
        "/repos/",
        "/repos/{slug}/",
        "/domain-goals/",
        "/domain-goals/{key}/",
        "/domain-goals/{key}/activate",
        "/workstreams/",
        "/workstreams/{key}/",
        "/tasks/",
        "/tasks/{key}/",
        "/decisions/",
        "/decisions/{key}/",
        "/decisions/{key}/resolve",
        "/progress-events/",
        "/next-steps/",
        "/events/",
        "/events/schemas/",
        "/events/schemas/{subject}.json",
        "/events/schemas/{subject}/{version}.json",
        "/events/asyncapi.json",
        "/events/asyncapi.yaml",
        "/events/{id}/",
        "/events/{id}/requeue",
        "/health",
    } | {path for path in schema["paths"] if path.startswith(("/repos/{slug}/sync", "/consistency/"))} | {
        "/domains/{slug}/history/",
        "/repos/{slug}/history/",
        "/domain-goals/{key}/history/",
        "/workstreams/{key}/history/",
        "/tasks/{key}/history/",
        "/decisions/{key}/history/",
    }
    assert set(schema["paths"]["/tasks/{key}/"]) == {"get", "patch"}
    assert "409" in schema["paths"]["/decisions/{key}/resolve"]["post"]["responses"]
    # An action's GET shows the object (the browsable API's page for the action's form).
    for action in ["/decisions/{key}/resolve", "/domain-goals/{key}/activate", "/events/{id}/requeue"]:
        assert set(schema["paths"][action]) == {"get", "post"}
    assert set(schema["paths"]["/repos/{slug}/sync"]) == {"get", "post"}


@pytest.mark.django_db
def test_the_schema_documents_the_links_as_read_only_uris(reader_api: APIClient) -> None:
    components = reader_api.get("/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["components"]
    workstream = components["schemas"]["Workstream"]["properties"]

    assert workstream["url"] == {"type": "string", "format": "uri", "readOnly": True}
    assert workstream["domain_url"] == {"type": "string", "format": "uri", "readOnly": True, "nullable": True}
    assert workstream["tasks_url"]["format"] == "uri"
    assert "url" not in components["schemas"]["WorkstreamRequest"]["properties"]
    assert components["schemas"]["DecisionResolveRequest"]["properties"]["chosen_option"]["type"] == "string"


@pytest.mark.django_db
def test_the_schema_says_chosen_option_may_be_null_and_task_counts_name_every_status(reader_api: APIClient) -> None:
    components = reader_api.get("/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["components"]
    chosen_option = components["schemas"]["Decision"]["properties"]["chosen_option"]
    counts = components["schemas"]["TaskCounts"]

    assert (chosen_option["type"], chosen_option["nullable"], chosen_option["readOnly"]) == ("string", True, True)
    assert set(counts["properties"]) == {"total", "open", *Task.Status.values}
    assert set(counts["required"]) == set(counts["properties"])


FUZZ_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
fuzzed = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))


@functools.cache
def wsgi_application() -> Any:
    """The WSGI application gunicorn serves, built on first use: its middleware reads the settings once,
    after the session's fixtures have set them (not at import)."""
    return get_wsgi_application()


@pytest.fixture
def in_test_transaction(db: None) -> Iterator[None]:
    """Requests run in the test's transaction, rolled back after it, as with Django's test client.

    Like that client, keep Django from closing the connection at the end of each request (it would
    close one that is inside a transaction); a test table flush per operation would cost more than
    the operation's requests. Each request runs in a savepoint of its own (`undone_afterwards`).
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_token(in_test_transaction: None) -> str:
    """A superuser's token, and one object of each kind under the keys in KNOWN_KEYS."""
    user = User.objects.create_superuser("fuzzer", password="pw-for-tests-only")
    domain = DomainFactory.create(slug="dom")
    repo = repo_register(data={"slug": "rep", "domain": domain})
    workstream = WorkstreamFactory.create(key="WS", repo=repo)
    TaskFactory.create(key="TK", workstream=workstream)
    DomainGoalFactory.create(key="goal", domain=domain)
    DecisionFactory.create(key="DEC", workstream=workstream)
    OutboxEvent.objects.update(id=KNOWN_EVENT_ID)
    token_for(user, name="spare")  # one DELETE /tokens/{name}/ may revoke
    return token_for(user)


KNOWN_EVENT_ID = "6f1c2a53-5bd5-4c1e-9d0a-5e0d2c7c9b11"
KNOWN_KEYS = {
    "domains": "dom",
    "repos": "rep",
    "domain-goals": "goal",
    "workstreams": "WS",
    "tasks": "TK",
    "decisions": "DEC",
    "events": KNOWN_EVENT_ID,
    "tokens": "spare",
}


def aim_at_existing_objects(case: Any) -> None:
    """Point about half the cases at objects that exist, so bodies reach the serializers and services."""
    parameters = case.path_parameters or {}
    if not parameters or zlib.crc32(repr((case.body, case.query)).encode()) % 2:
        return
    name = next(iter(parameters))
    parameters[name] = KNOWN_KEYS[case.path.strip("/").split("/")[0]]


@fuzzed.parametrize()
@settings(
    max_examples=int(os.environ.get("STATEHUB_FUZZ_EXAMPLES", "15")),
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_fuzzed_requests_never_get_a_server_error_and_answers_match_the_schema(case: Any, fuzz_token: str) -> None:
    aim_at_existing_objects(case)
    with undone_afterwards():
        case.call_and_validate(**in_process(fuzz_token), checks=FUZZ_CHECKS)


@contextlib.contextmanager
def undone_afterwards() -> Iterator[None]:
    """Each request in a savepoint rolled back after it: every case meets the seeded objects, and a
    request whose query the database refused (answered 400) leaves the test's transaction usable,
    as a request in production leaves its connection (autocommit)."""
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)
        transaction.set_rollback(False)


def in_process(token: str) -> dict[str, Any]:
    """Through the WSGI application gunicorn serves, in this thread (no socket, no server thread)."""
    return {
        "app": wsgi_application(),
        "base_url": "http://testserver",  # the host Django's test environment allows
        # As a TLS-terminating proxy would say; production settings redirect plain HTTP.
        "headers": {"Authorization": f"Token {token}", "X-Forwarded-Proto": "https"},
    }


def test_the_fuzzed_requests_reach_the_views(fuzz_token: str) -> None:
    """A request sent as the fuzz sends them is answered by the view, not refused by host, scheme or auth."""
    case = fuzzed["/workstreams/{key}/"]["GET"].Case(path_parameters={"key": "WS"})

    response = case.call(**in_process(fuzz_token))

    assert (response.status_code, response.json()["key"]) == (200, "WS")
