"""The transactional outbox: one row per lifecycle event, written in the transaction of the change."""

import uuid

from django.db import models
from django.db.models.expressions import RawSQL

# Numbers rows in the order they are written. Events of one aggregate are written by transactions
# that lock that aggregate, so among them this order is their commit order.
POSITION_SEQUENCE = "events_outbox_position_seq"


class OutboxEvent(models.Model):
    """A recorded event and its delivery state; its id is the envelope id and the `Nats-Msg-Id`."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PUBLISHED = "published"
        SKIPPED = "skipped"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.CharField(max_length=200, db_index=True)
    aggregate = models.CharField(
        max_length=250, blank=True, help_text="The aggregate the event belongs to, e.g. `workstream:CUST-WP-0040`."
    )
    position = models.BigIntegerField(
        db_default=RawSQL(f"nextval('{POSITION_SEQUENCE}')", ()),  # noqa: S611 - a constant, no input
        editable=False,
        help_text="Order of writing; an aggregate's events are published in this order.",
    )
    envelope = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    stream_seq = models.BigIntegerField(null=True, blank=True)
    stream_created = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Creation time of the stream incarnation `stream_seq` belongs to (a recreated stream restarts at 1).",
    )
    last_error = models.TextField(blank=True)
    # The W3C trace context of the write that recorded the event (null when tracing was off): sent as
    # the message's `traceparent`/`tracestate` headers, so a consumer continues that trace.
    traceparent = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 - null: not traced
    tracestate = models.CharField(max_length=512, null=True, blank=True)  # noqa: DJ001 - null: not traced
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_status_next_idx"),
            # The relay's "older pending row of the same aggregate?" probe. Keyed on an expression that
            # is the aggregate for pending rows and null otherwise, so the probe's condition can only be
            # served by this index: a plain `status = 'pending'` would let a planner with stale statistics
            # (a backlog that formed during an outage) pick the status index and read every pending row
            # once per candidate row.
            models.Index(
                models.Case(models.When(status="pending", then=models.F("aggregate"))),
                "position",
                name="outbox_pending_aggregate_idx",
            ),
            # The replay (`/events/?after=`) pages published rows in stream order.
            models.Index(
                fields=["stream_seq"], condition=models.Q(status="published"), name="outbox_published_seq_idx"
            ),
            # The replay (`/events/?after=`) of one stream incarnation pages its rows in stream order.
            models.Index(
                fields=["stream_created", "stream_seq"],
                condition=models.Q(status="published"),
                name="outbox_incarnation_seq_idx",
            ),
            # Published rows that name no incarnation (published before the hub recorded them, or when
            # the server did not say; the relay names them): whether a replay must mix any in is one
            # look here, and so is the relay's search for rows to name.
            models.Index(
                fields=["published_at"],
                condition=models.Q(status="published", stream_created__isnull=True),
                name="outbox_unlabelled_idx",
            ),
            # The replay from a time (`/events/?since=`): a recent `since` reads its few rows here
            # instead of walking every older published row in stream order.
            models.Index(
                fields=["published_at"], condition=models.Q(status="published"), name="outbox_published_at_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "published", "skipped", "failed"]),
                name="outbox_status_valid",
            ),
        ]
        permissions = [
            ("requeue_outboxevent", "Can requeue a failed or skipped event"),
            ("publish_outboxevent", "Can publish a pending event now"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.id}"
