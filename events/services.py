"""Writes to the outbox made by people: requeue a dead letter, publish a pending event now."""

from django.db import transaction
from django.utils import timezone

from events.errors import OutboxStateError
from events.models import OutboxEvent
from events.outbox import enqueue_publish


@transaction.atomic
def outbox_event_requeue(*, event: OutboxEvent) -> OutboxEvent:
    """Put a `failed` or `skipped` event back to `pending` with fresh attempts; publish it after commit."""
    event = OutboxEvent.objects.select_for_update().get(pk=event.pk)
    if event.status not in (OutboxEvent.Status.FAILED, OutboxEvent.Status.SKIPPED):
        raise OutboxStateError(f"Only failed or skipped events can be requeued; this one is {event.status}.")
    event.status = OutboxEvent.Status.PENDING
    event.attempts = 0
    event.next_attempt_at = timezone.now()
    event.last_error = ""
    event.save(update_fields=["status", "attempts", "next_attempt_at", "last_error"])
    event_id = event.id
    transaction.on_commit(lambda: enqueue_publish(event_id), robust=True)
    return event


@transaction.atomic
def outbox_event_publish_now(*, event: OutboxEvent) -> OutboxEvent:
    """Make a `pending` event due now (cutting its back-off short) and publish it after commit."""
    event = OutboxEvent.objects.select_for_update().get(pk=event.pk)
    if event.status != OutboxEvent.Status.PENDING:
        raise OutboxStateError(f"Only pending events can be published now; this one is {event.status}.")
    event.next_attempt_at = timezone.now()
    event.save(update_fields=["next_attempt_at"])
    event_id = event.id
    transaction.on_commit(lambda: enqueue_publish(event_id), robust=True)
    return event
