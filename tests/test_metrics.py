"""/metrics: request metrics, outbox gauges and publisher counters in the Prometheus text format."""

import datetime as dt

import pytest
from django.utils import timezone

from events.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client, django_user_model):
    """A logged-in client: /metrics is authenticated like the rest of the API."""
    client.force_login(django_user_model.objects.create_user("prometheus"))
    return client


def test_metrics_need_authentication(db):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tests.tokens import token_for

    assert Client().get("/metrics").status_code == 401
    token = token_for(get_user_model().objects.create_user("scraper"))
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def _outbox_row(status: str, age_s: float) -> OutboxEvent:
    row = OutboxEvent.objects.create(subject="org.statehub.repo.registered", envelope={}, status=status)
    OutboxEvent.objects.filter(pk=row.pk).update(created_at=timezone.now() - dt.timedelta(seconds=age_s))
    return row


def _value(body: str, name: str) -> float:
    line = next(line for line in body.splitlines() if line.startswith(name + " "))
    return float(line.split()[-1])


def test_metrics_report_the_outbox_numbers_to_alert_on(client):
    _outbox_row("pending", 120)
    _outbox_row("pending", 5)
    _outbox_row("failed", 10)
    _outbox_row("published", 999)

    response = client.get("/metrics")

    assert response.status_code == 200
    body = response.content.decode()
    assert _value(body, 'statehub_outbox_events{status="pending"}') == 2
    assert _value(body, 'statehub_outbox_events{status="failed"}') == 1
    assert 119 <= _value(body, "statehub_outbox_oldest_pending_age_seconds") < 180


def test_metrics_include_request_and_publisher_metrics(client):
    client.get("/health")
    body = client.get("/metrics").content.decode()
    assert "django_http_requests_total_by_method_total" in body
    assert "statehub_events_commit_to_ack_seconds" in body
    assert "statehub_events_publish_attempts_total" in body


def test_the_oldest_pending_age_is_zero_when_nothing_is_pending(client):
    _outbox_row("published", 50)
    body = client.get("/metrics").content.decode()
    assert _value(body, "statehub_outbox_oldest_pending_age_seconds") == 0
