"""Lifecycle events: the envelope, the subject registry, the outbox and its delivery to JetStream.

Services call `events.record(subject, attributes)` inside their transaction. These two are thin
doors onto `events.outbox`, imported when called: this package is imported while Django loads its
apps, before models may be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt

    from events.models import OutboxEvent


def record(subject: str, attributes: dict[str, Any], *, occurred_at: dt.datetime | None = None) -> OutboxEvent:
    """Record a lifecycle event in the caller's transaction; see `events.outbox.record`."""
    from events.outbox import record as _record

    return _record(subject, attributes, occurred_at=occurred_at)


def record_many(
    subject: str, attributes_list: list[dict[str, Any]], *, occurred_at: dt.datetime | None = None
) -> list[OutboxEvent]:
    """Record many events of one subject in the caller's transaction; see `events.outbox.record_many`."""
    from events.outbox import record_many as _record_many

    return _record_many(subject, attributes_list, occurred_at=occurred_at)
