"""Celery tasks of the event pipeline: publish one outbox row, relay the backlog, prune old rows."""

import uuid
from typing import Any

from django.conf import settings

from events import relay, retention
from statehub.celery import app


@app.task(bind=True, name="events.tasks.publish_outbox_event", ignore_result=True)
def publish_outbox_event(self: Any, event_id: str) -> dict[str, Any]:
    """Publish one committed outbox row if it is still pending and due (enqueued by `events.record`)."""
    # In-process (no broker) this runs inside the request right after commit: wait for the PubAck only briefly.
    timeout = settings.EVENTS_INLINE_PUBLISH_TIMEOUT_S if self.request.is_eager else None
    return relay.publish_event_now(uuid.UUID(str(event_id)), timeout=timeout).as_dict()


@app.task(name="events.tasks.relay_pending_events", ignore_result=True)
def relay_pending_events() -> dict[str, Any]:
    """Periodic sweep: publish every due pending outbox row (Celery beat, `EVENTS_RELAY_INTERVAL_S`)."""
    return relay.relay_pending_events().as_dict()


@app.task(name="events.tasks.prune_old_events", ignore_result=True)
def prune_old_events() -> int:
    """Periodic retention: delete published/skipped rows older than `EVENTS_RETENTION_DAYS`."""
    return retention.outbox_events_prune()
