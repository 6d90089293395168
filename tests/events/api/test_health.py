"""`/health`: no auth; database, NATS and outbox; 503 when the database is unreachable."""

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError
from rest_framework.test import APIClient

import events
import events.health
from events import publisher
from events.api import HealthThrottle
from events.health import reset_health_cache
from events.models import OutboxEvent
from tests.network import silent_listener

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_health(settings: Any) -> Iterator[None]:
    """Every call probes afresh (the cache has its own test), on a fresh publisher connection."""
    settings.HEALTH_CACHE_S = 0
    reset_health_cache()
    publisher.reset_publisher()
    yield
    reset_health_cache()
    publisher.reset_publisher()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never speaks: a NATS server that hangs."""
    with silent_listener() as port:
        yield f"nats://127.0.0.1:{port}"


def test_health_needs_no_authentication_and_reports_an_empty_outbox(anon_api: APIClient, settings: Any) -> None:
    settings.NATS_URL = ""

    response = anon_api.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "nats": "unconfigured",
        "stream": "unconfigured",
        "stream_drift": [],
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


def test_a_hanging_nats_server_is_unreachable_within_the_connect_timeout(silent_server: str, settings: Any) -> None:
    settings.NATS_URL = silent_server
    settings.NATS_CONNECT_TIMEOUT_S = 1.0

    reason = publisher.start_probe().result()

    # The connection attempt's own timeout ended it: not the probe's outer wait ("Could not probe ...").
    assert f"{silent_server} is unreachable (TimeoutError" in reason, reason


@pytest.mark.nats
def test_health_is_cached_per_process_and_opens_no_connection_per_call(
    anon_api: APIClient, settings: Any, nats_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.NATS_URL = nats_server_url
    settings.HEALTH_CACHE_S = 60
    assert anon_api.get("/health").json()["nats"] == "ok"
    connection = publisher._get_publisher()._connection
    probes: list[int] = []
    original = events.health.database_status

    def counted() -> str:
        probes.append(1)
        return original()

    monkeypatch.setattr(events.health, "database_status", counted)

    bodies = [anon_api.get("/health").json() for _ in range(5)]

    assert probes == []  # served from the cache
    assert all(body["nats"] == "ok" for body in bodies)
    settings.HEALTH_CACHE_S = 0
    assert anon_api.get("/health").json()["nats"] == "ok"
    assert probes == [1]
    assert publisher._get_publisher()._connection is connection  # the same long-lived connection


def test_anonymous_health_callers_are_throttled(
    anon_api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.NATS_URL = ""
    # DRF reads the rates once, when the throttle class is defined.
    monkeypatch.setattr(HealthThrottle, "THROTTLE_RATES", {**HealthThrottle.THROTTLE_RATES, "health": "3/minute"})

    cache.clear()
    try:
        codes = [anon_api.get("/health").status_code for _ in range(5)]
    finally:
        cache.clear()

    assert codes == [200, 200, 200, 429, 429]


def test_health_callers_forging_x_forwarded_for_are_counted_by_their_real_address(
    anon_api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.NATS_URL = ""
    settings.TRUST_PROXY_HEADERS = True
    monkeypatch.setattr(HealthThrottle, "THROTTLE_RATES", {**HealthThrottle.THROTTLE_RATES, "health": "3/minute"})
    cache.clear()

    # As nginx's $proxy_add_x_forwarded_for forwards them: the forged hop, then the caller's own address.
    forged = [anon_api.get("/health", HTTP_X_FORWARDED_FOR=f"10.1.0.{n}, 198.51.100.4").status_code for n in range(5)]
    monitor = anon_api.get("/health", HTTP_X_FORWARDED_FOR="198.51.100.4, 198.51.100.77").status_code

    assert forged == [200, 200, 200, 429, 429]
    assert monitor == 200


def test_while_the_database_is_down_health_answers_without_asking_the_throttle(
    anon_api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.NATS_URL = ""
    asked: list[str] = []

    class DownConnection:
        def cursor(self) -> Any:
            raise OperationalError("connection refused")

    monkeypatch.setattr(events.health, "connection", DownConnection())

    def allow_request(self: HealthThrottle, request: Any, view: Any) -> bool:
        asked.append("asked")
        return True

    monkeypatch.setattr(HealthThrottle, "allow_request", allow_request)

    assert anon_api.get("/health").status_code == 503
    assert asked == []


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
    assert response["Retry-After"]
    assert response.json()["database"] == "unreachable"
    assert response.json()["status"] == "down"
    assert response.json()["outbox"] == {"pending": None, "failed": None, "oldest_pending_age_s": None}
