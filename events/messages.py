"""What the publisher sends and what comes back: the message, the outcome of its publish, a probe's findings.

Outcomes are classified, never raised. NATS being away (unreachable, a lost connection, no PubAck
in time, no responders, a missing stream, a JetStream error the server marks as its own) is
`unavailable`: not the message's fault, so it never counts against the row. An error of the
message itself is `permanent` (a payload over the server's limit, a subject no stream covers) or
`retry` (any other JetStream refusal).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from events.headers import header_block, message_headers
from events.stream import Drift


@dataclass(frozen=True)
class OutgoingMessage:
    """One message: subject, encoded envelope, id (`Nats-Msg-Id`), timestamp, aggregate, trace context (headers).

    The header section is encoded when the message is built, in the caller's thread, so the
    publisher loop, which every drain thread shares, only writes bytes.
    """

    subject: str
    payload: bytes
    msg_id: str
    timestamp: str = ""
    aggregate: str = ""
    # The W3C trace context stored with the event ("" when its write was not traced).
    traceparent: str = ""
    tracestate: str = ""
    header_block: bytes = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        block = header_block(
            subject=self.subject,
            event_id=self.msg_id,
            timestamp=self.timestamp,
            aggregate=self.aggregate,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )
        object.__setattr__(self, "header_block", block)

    @functools.cached_property
    def headers(self) -> dict[str, str]:
        """The same headers as a dict (what `header_block` encodes)."""
        return message_headers(
            subject=self.subject,
            event_id=self.msg_id,
            timestamp=self.timestamp,
            aggregate=self.aggregate,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )


@dataclass(frozen=True)
class PublishResult:
    """What happened to one publish; truthy when JetStream acknowledged it (a duplicate counts)."""

    ok: bool
    stream_seq: int | None = None
    # The creation time of the stream incarnation the sequence belongs to (a recreated stream restarts at 1).
    stream_created: dt.datetime | None = None
    duplicate: bool = False
    skipped: bool = False
    permanent: bool = False
    timed_out: bool = False
    unavailable: bool = False
    error: str = ""

    def __bool__(self) -> bool:
        return self.ok

    @property
    def outcome(self) -> str:
        """`published`, `skipped`, `unavailable` (NATS away), `retry` or `permanent` (the message's fault)."""
        if self.ok:
            return "published"
        if self.skipped:
            return "skipped"
        if self.unavailable:
            return "unavailable"
        return "permanent" if self.permanent else "retry"


SKIPPED = PublishResult(ok=False, skipped=True, error="NATS_URL is not set; event not published.")
# Marker for "no responders": no stream listens on the subject (yet).
NO_STREAM = PublishResult(ok=False, unavailable=True, error="No stream covers the subject.")


def transient(error: str) -> PublishResult:
    """NATS is away or did not say: the message is not at fault and is published again as it is."""
    return PublishResult(ok=False, unavailable=True, error=error)


def retry(error: str) -> PublishResult:
    """The server refused this message for a reason that may pass: counted against the row."""
    return PublishResult(ok=False, error=error)


def permanent(error: str) -> PublishResult:
    return PublishResult(ok=False, permanent=True, error=error)


@dataclass(frozen=True)
class ProbeOutcome:
    """What a probe found: why NATS did not answer ("" when it did), and the stream against the settings."""

    reason: str
    stream: str = "unknown"  # ok, drifted, missing or unknown
    drift: tuple[Drift, ...] = ()
    stream_created: dt.datetime | None = None  # the live stream's incarnation, when it was read
