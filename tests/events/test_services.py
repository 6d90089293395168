"""Outbox services (requeue, publish now) and retention (prune)."""

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from events.errors import OutboxStateError
from events.models import OutboxEvent
from events.retention import outbox_events_prune
from events.services import outbox_event_publish_now, outbox_event_requeue
from hub import services

pytestmark = pytest.mark.django_db


def recorded(status: str = OutboxEvent.Status.PENDING, age_days: float = 0, **fields: Any) -> OutboxEvent:
    services.repo_register(data={"slug": f"repo-{OutboxEvent.objects.count()}", "name": "r"})
    event = OutboxEvent.objects.order_by("-created_at").first()
    assert event is not None
    OutboxEvent.objects.filter(pk=event.pk).update(
        status=status, created_at=timezone.now() - dt.timedelta(days=age_days), **fields
    )
    event.refresh_from_db()
    return event


def test_requeue_puts_a_failed_event_back_to_pending_and_publishes_it_after_commit(
    jetstream: Any, django_capture_on_commit_callbacks: Any
) -> None:
    event = recorded(OutboxEvent.Status.FAILED, attempts=10, last_error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        outbox_event_requeue(event=event)

    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (OutboxEvent.Status.PUBLISHED, 0, "")
    assert jetstream.count() == 1


def test_requeue_refuses_a_published_event() -> None:
    event = recorded(OutboxEvent.Status.PUBLISHED)

    with pytest.raises(OutboxStateError, match="published"):
        outbox_event_requeue(event=event)


def test_publish_now_cuts_a_pending_events_back_off_short(
    jetstream: Any, django_capture_on_commit_callbacks: Any
) -> None:
    event = recorded(attempts=3, next_attempt_at=timezone.now() + dt.timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        outbox_event_publish_now(event=event)

    event.refresh_from_db()
    assert event.status == OutboxEvent.Status.PUBLISHED
    assert jetstream.count() == 1


def test_publish_now_refuses_a_failed_event() -> None:
    event = recorded(OutboxEvent.Status.FAILED)

    with pytest.raises(OutboxStateError, match="Only pending"):
        outbox_event_publish_now(event=event)


def test_prune_deletes_old_published_and_skipped_rows_only(settings: Any) -> None:
    settings.EVENTS_RETENTION_DAYS = 30
    old_published = recorded(OutboxEvent.Status.PUBLISHED, age_days=31)
    old_skipped = recorded(OutboxEvent.Status.SKIPPED, age_days=40)
    kept = [
        recorded(OutboxEvent.Status.PENDING, age_days=90),
        recorded(OutboxEvent.Status.FAILED, age_days=90),
        recorded(OutboxEvent.Status.PUBLISHED, age_days=29),
    ]

    deleted = outbox_events_prune(batch_size=1)

    assert deleted == 2
    remaining = set(OutboxEvent.objects.values_list("id", flat=True))
    assert remaining == {event.id for event in kept}
    assert old_published.id not in remaining and old_skipped.id not in remaining
