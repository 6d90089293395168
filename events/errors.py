"""Errors of the events app: events that break the contract, and outbox actions the event's status forbids."""

from statehub.errors import ErrorKind, ServiceError


class EnvelopeError(ValueError):
    """An event that does not fit the contract (unknown subject, wrong attributes, unserialisable value).

    A programming error in the code that records the event, not the caller's: it is not a
    `ServiceError`, and reaching a caller it is a 500.
    """


class EnvelopeTooLarge(EnvelopeError, ServiceError):
    """A change whose envelope would not fit the NATS server's max payload, so it could never be delivered."""

    code = "too_large"
    kind = ErrorKind.INVALID


class OutboxStateError(ServiceError):
    """An outbox action that does not fit the event's current status (requeue a published event)."""

    code = "invalid_transition"
    kind = ErrorKind.CONFLICT


class StreamRecreated(ServiceError):
    """A replay from a stream sequence of a former incarnation of the stream: its sequences mean nothing now."""

    code = "stream_recreated"
    kind = ErrorKind.CONFLICT


class UnknownIncarnation(ServiceError):
    """A replay of a stream incarnation (creation time) the hub never published to: a wrong value, most likely."""

    code = "unknown_stream_incarnation"
    kind = ErrorKind.INVALID
