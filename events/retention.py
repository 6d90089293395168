"""Retention of the outbox: delivered rows are deleted after `EVENTS_RETENTION_DAYS`.

Kept apart from `events.services` (which hands rows to the publish task) so that the Celery tasks
module, which runs this, imports nothing that imports it back.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.models import OutboxEvent


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
