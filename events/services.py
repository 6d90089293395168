"""Writes to the outbox made by people and housekeeping: requeue, publish now, prune."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.models import OutboxEvent
from events.outbox import enqueue_publish


class OutboxStateError(Exception):
    """An outbox action that does not fit the event's current status."""


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


def outbox_events_prune(*, older_than: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Delete `published`/`skipped` rows created before `older_than` (default: the retention period), in batches.

    `pending` and `failed` rows are never deleted. Each batch is its own short transaction.
    """
    cutoff = older_than or timezone.now() - dt.timedelta(days=settings.EVENTS_RETENTION_DAYS)
    size = batch_size or settings.EVENTS_PRUNE_BATCH_SIZE
    prunable = OutboxEvent.objects.filter(
        status__in=(OutboxEvent.Status.PUBLISHED, OutboxEvent.Status.SKIPPED), created_at__lt=cutoff
    )
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(prunable.order_by().values_list("id", flat=True)[:size])
            if not ids:
                return deleted
            # Filter again on status: a row requeued since the select must survive.
            count, _ = prunable.filter(id__in=ids).delete()
            deleted += count
