"""Lifecycle events: the envelope, the subject registry, the outbox and its delivery to JetStream.

Services call `events.record(subject, attributes)` inside their transaction.
"""

from typing import Any


def record(subject: str, attributes: dict[str, Any], **kwargs: Any) -> Any:
    """Record a lifecycle event in the caller's transaction; see `events.outbox.record`."""
    from events.outbox import record as _record

    return _record(subject, attributes, **kwargs)


def record_many(subject: str, attributes_list: list[dict[str, Any]], **kwargs: Any) -> Any:
    """Record many events of one subject in the caller's transaction; see `events.outbox.record_many`."""
    from events.outbox import record_many as _record_many

    return _record_many(subject, attributes_list, **kwargs)
