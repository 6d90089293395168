"""`/health`: no auth; database, NATS and outbox; 503 when the database is unreachable."""

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

import events
import events.health
from events.health import nats_status
from events.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never speaks: a NATS server that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"nats://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_health_needs_no_authentication_and_reports_an_empty_outbox(anon_api: APIClient, settings: Any) -> None:
    settings.NATS_URL = ""

    response = anon_api.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "nats": "unconfigured",
        "outbox": {"pending": 0, "failed": 0, "oldest_pending_age_s": None},
    }
    assert anon_api.get("/health/").status_code == 200


def test_health_counts_pending_and_failed_events(anon_api: APIClient, settings: Any) -> None:
    settings.NATS_URL = ""
    for slug in ("a", "b", "c"):
        events.record(
            "org.statehub.repo.registered",
            {"repo_id": None, "repo_slug": slug, "domain_slug": None, "remote_url": "", "local_path": "", "name": ""},
        )
    OutboxEvent.objects.filter(envelope__attributes__repo_slug="c").update(status="failed")

    body = anon_api.get("/health").json()

    assert body["outbox"]["pending"] == 2
    assert body["outbox"]["failed"] == 1
    assert body["outbox"]["oldest_pending_age_s"] >= 0
    assert body["status"] == "degraded"


@pytest.mark.nats
def test_health_reports_a_reachable_nats_server(anon_api: APIClient, settings: Any, nats_server_url: str) -> None:
    settings.NATS_URL = nats_server_url

    body = anon_api.get("/health").json()

    assert body["nats"] == "ok"
    assert body["status"] == "ok"


def test_health_reports_a_refused_nats_connection_as_unreachable(anon_api: APIClient, settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    settings.NATS_URL = f"nats://127.0.0.1:{free_port}"

    response = anon_api.get("/health")

    assert response.status_code == 200
    assert response.json()["nats"] == "unreachable"
    assert response.json()["status"] == "degraded"


def test_a_hanging_nats_server_is_unreachable_within_the_short_timeout(silent_server: str) -> None:
    started = time.monotonic()

    assert nats_status(silent_server) == "unreachable"
    assert time.monotonic() - started < 2.0


def test_health_is_503_when_the_database_is_unreachable(
    anon_api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.NATS_URL = ""

    class DownConnection:
        def cursor(self) -> Any:
            raise OperationalError("connection refused")

    monkeypatch.setattr(events.health, "connection", DownConnection())

    response = anon_api.get("/health")

    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert response.json()["status"] == "down"
    assert response.json()["outbox"] == {"pending": None, "failed": None, "oldest_pending_age_s": None}
