"""Recording events into the outbox, and handing them to the publisher after commit."""

import datetime as dt
import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.envelope import build_envelope, encode_envelope
from events.errors import EnvelopeError, EnvelopeTooLarge
from events.models import OutboxEvent
from events.subjects import REGISTRY, Subject
from statehub import tracing

logger = logging.getLogger(__name__)


def record(subject: str, attributes: dict[str, Any], *, occurred_at: dt.datetime | None = None) -> OutboxEvent:
    """Write one event to the outbox inside the caller's transaction; publish it after commit.

    The attributes must be exactly the subject's registered ones. A rollback discards the row,
    so no event leaks; once committed the row stays `pending` until JetStream acknowledges it.
    An envelope too large to ever be delivered is refused here (`EnvelopeTooLarge`), failing the write.
    """
    registration = _check_attributes(subject, attributes)
    event_id = uuid.uuid4()
    envelope = build_envelope(
        subject=subject, attributes=attributes, occurred_at=occurred_at or timezone.now(), event_id=event_id
    )
    _check_size(subject, envelope)
    with tracing.create_span(subject, str(event_id)):
        # The message carries this context, whenever and by whom it is published.
        traceparent, tracestate = tracing.current_context_headers()
        event = OutboxEvent.objects.create(
            id=event_id,
            subject=subject,
            aggregate=registration.aggregate_key(envelope["attributes"]),
            envelope=envelope,
            next_attempt_at=timezone.now(),
            traceparent=traceparent,
            tracestate=tracestate,
        )
    transaction.on_commit(lambda: enqueue_publish(event_id), robust=True)
    return event


# After a failed enqueue, skip the broker for a while: the relay delivers those rows, and a hung
# broker then costs one request its socket timeout per window instead of every request.
_broker_down_until = 0.0


def enqueue_publish(event_id: uuid.UUID) -> None:
    """Hand a committed event to the Celery publish task; a broker failure is logged, the relay retries."""
    from events.tasks import publish_outbox_event

    _enqueue(publish_outbox_event, str(event_id), what=f"event {event_id}", event_id=str(event_id))


def enqueue_relay() -> None:
    """Ask a worker to drain due pending events now (after a bulk `record_many`)."""
    from events.tasks import relay_pending_events

    _enqueue(relay_pending_events, what="a relay run")


def _enqueue(task: Any, *args: str, what: str, event_id: str = "") -> None:
    global _broker_down_until
    # The JSON log (LOG_FORMAT=json) names the event of the line in a field of its own.
    extra = {"event_id": event_id} if event_id else None
    if time.monotonic() < _broker_down_until:
        logger.info("Broker recently unreachable; %s is left to the relay.", what, extra=extra)
        return
    try:
        task.delay(*args)
    except Exception:
        _broker_down_until = time.monotonic() + settings.EVENTS_ENQUEUE_BACKOFF_S
        logger.warning("Could not enqueue %s; the relay will deliver it.", what, exc_info=True, extra=extra)


def record_many(
    subject: str, attributes_list: list[dict[str, Any]], *, occurred_at: dt.datetime | None = None
) -> list[OutboxEvent]:
    """`record` for many events of one subject at once: one INSERT, one relay run after commit.

    Same guarantees as `record` (the rows live and die with the caller's transaction); used by
    bulk maintenance such as `cleanup_stale_tasks`, where a row-by-row INSERT dominated the run
    and one publish task per event would flood the broker.
    """
    now = timezone.now()
    # One context for the whole batch: the command's or task's span (there is no write per event).
    traceparent, tracestate = tracing.current_context_headers()
    rows = []
    for attributes in attributes_list:
        registration = _check_attributes(subject, attributes)
        event_id = uuid.uuid4()
        envelope = build_envelope(
            subject=subject, attributes=attributes, occurred_at=occurred_at or now, event_id=event_id
        )
        _check_size(subject, envelope)
        aggregate = registration.aggregate_key(envelope["attributes"])
        rows.append(
            OutboxEvent(
                id=event_id,
                subject=subject,
                aggregate=aggregate,
                envelope=envelope,
                next_attempt_at=now,
                traceparent=traceparent,
                tracestate=tracestate,
            )
        )
    OutboxEvent.objects.bulk_create(rows)
    if rows:
        transaction.on_commit(enqueue_relay, robust=True)
    return rows


def _check_attributes(subject: str, attributes: dict[str, Any]) -> Subject:
    registration = REGISTRY.get(subject)
    if registration is None:
        raise EnvelopeError(f"Unknown event subject {subject!r}.")
    given = set(attributes)
    if given != registration.attribute_names:
        missing = sorted(registration.attribute_names - given)
        extra = sorted(given - registration.attribute_names)
        raise EnvelopeError(
            f"Attributes of {subject} differ from its registration: missing {missing}, unexpected {extra}."
        )
    return registration


# Room kept for the message's headers (Nats-Msg-Id, CloudEvents, a W3C trace context of at most
# ~600 bytes), which count toward the server's limit.
HEADER_ALLOWANCE_BYTES = 8 * 1024


def envelope_limit() -> int:
    """The largest encoded envelope the hub records: the server's max payload less room for headers."""
    return int(settings.EVENTS_MAX_PAYLOAD_BYTES) - HEADER_ALLOWANCE_BYTES


def _check_size(subject: str, envelope: dict[str, Any]) -> None:
    # The fields that feed envelopes are bounded so this never fires; it guards the promise that
    # no write is accepted whose event could not be delivered.
    size = len(encode_envelope(envelope))
    if size > envelope_limit():
        raise EnvelopeTooLarge(
            f"The {subject} event of this change would be {size} bytes, over the {envelope_limit()} bytes "
            "an event may have; shorten the longest text."
        )


def reset_enqueue_backoff() -> None:
    """Forget a recent broker failure (used after fork and by tests)."""
    global _broker_down_until
    _broker_down_until = 0.0
