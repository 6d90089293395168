"""Re-publishing stored envelopes, for a consumer that lost its place (`manage.py replay_events`).

Every published row is sent again exactly as the relay sent it: the envelope as PostgreSQL renders
the stored JSON, `Nats-Msg-Id` = envelope id and the same CloudEvents headers. JetStream drops a
repeat inside its duplicate window; beyond it the message is stored again and consumers dedupe
by `id`. Rows go out in their original publish order (stream sequence), a batch at a time, and
the outbox is left as it is: a replay is a copy, not a new delivery of the row.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from events.models import OutboxEvent
from events.publisher import OutgoingMessage, publish_messages

TABLE = OutboxEvent._meta.db_table

_SELECT_SQL = f"""
SELECT id::text, subject, envelope::text, coalesce(envelope->>'timestamp', ''), stream_seq
FROM {TABLE}
WHERE status = 'published' AND stream_seq IS NOT NULL AND published_at >= %(since)s
    AND stream_seq > %(after)s {{only}}
ORDER BY stream_seq
LIMIT %(limit)s
"""  # noqa: S608 - table name from the model, values are parameters


@dataclass(frozen=True)
class StoredEvent:
    """A published row as it goes on the wire again."""

    id: str
    subject: str
    payload: bytes
    timestamp: str
    stream_seq: int

    def message(self) -> OutgoingMessage:
        return OutgoingMessage(subject=self.subject, payload=self.payload, msg_id=self.id, timestamp=self.timestamp)


@dataclass
class ReplayReport:
    """What a replay sent: stored again by JetStream, dropped as duplicates, or not accepted."""

    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    first_id: str = ""
    last_id: str = ""
    last_stream_seq: int | None = None
    errors: list[str] = field(default_factory=list)


# Longer than any row can wait between reaching the stream and being marked published (the relay
# marks a batch right after its PubAcks, within the publish and statement timeouts).
MARK_DELAY_BOUND = dt.timedelta(minutes=15)


def stream_seq_before(since: dt.datetime) -> int:
    """A stream sequence below every row published at or after `since` (-1 when there is none).

    Rows go out in stream order, but `since` is about `published_at`, which the stream's index
    cannot answer: walking the stream from its start to the first row at `since` would read every
    older row. A row marked at or before `since - MARK_DELAY_BOUND` reached the stream before any
    row marked at or after `since` did, so its sequence bounds them all; the last such row is one
    read backwards on the `published_at` index, and a replay from a time reads only the rows of
    that quarter hour before it.
    """
    seq = (
        OutboxEvent.objects.filter(
            status=OutboxEvent.Status.PUBLISHED,
            published_at__lte=since - MARK_DELAY_BOUND,
            stream_seq__isnull=False,
        )
        .order_by("-published_at")
        .values_list("stream_seq", flat=True)
        .first()
    )
    return -1 if seq is None else int(seq)


def published_events(*, since: dt.datetime, subject: str = "", after: int = -1, limit: int = 500) -> list[StoredEvent]:
    """Up to `limit` rows published at or after `since` (of `subject`, if given), after stream sequence `after`."""
    after = max(after, stream_seq_before(since))
    with connection.cursor() as cursor:
        only = "AND subject = %(subject)s" if subject else ""
        cursor.execute(
            _SELECT_SQL.format(only=only), {"since": since, "subject": subject, "after": after, "limit": limit}
        )
        rows = cursor.fetchall()
    return [
        StoredEvent(id=row_id, subject=name, payload=envelope.encode(), timestamp=timestamp, stream_seq=seq)
        for row_id, name, envelope, timestamp, seq in rows
    ]


def replay_plan(*, since: dt.datetime, subject: str = "") -> ReplayReport:
    """What a replay would send, without sending: the count and the first and last ids."""
    report = ReplayReport()
    after = -1
    while batch := published_events(since=since, subject=subject, after=after, limit=5000):
        report.first_id = report.first_id or batch[0].id
        report.last_id, report.last_stream_seq = batch[-1].id, batch[-1].stream_seq
        report.sent += len(batch)
        after = batch[-1].stream_seq
    return report


def replay_published_events(*, since: dt.datetime, subject: str = "", batch_size: int | None = None) -> ReplayReport:
    """Re-publish every row published at or after `since`, in publish order; stop at the first batch JetStream refuses.

    `NATS_URL` must be set (the caller checks). On a refusal `errors` says why and
    `last_stream_seq` is the last row sent successfully, so nothing before it needs replaying again.
    """
    size = batch_size or settings.EVENTS_RELAY_BATCH_SIZE
    report = ReplayReport()
    after = -1
    while batch := published_events(since=since, subject=subject, after=after, limit=size):
        results = publish_messages([event.message() for event in batch])
        for event, result in zip(batch, results, strict=True):
            if not result.ok:
                report.errors.append(f"{event.id} (stream sequence {event.stream_seq}): {result.error}")
                return report
            report.first_id = report.first_id or event.id
            report.last_id, report.last_stream_seq = event.id, event.stream_seq
            report.sent += 1
            if result.duplicate:
                report.duplicates += 1
            else:
                report.stored += 1
        after = batch[-1].stream_seq
    return report
