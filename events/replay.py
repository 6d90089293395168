"""Re-publishing stored envelopes, for a consumer that lost its place (`manage.py replay_events`).

Every published row is sent again exactly as the relay sent it: the envelope as PostgreSQL renders
the stored JSON, `Nats-Msg-Id` = envelope id and the same CloudEvents headers. JetStream drops a
repeat inside its duplicate window; beyond it the message is stored again and consumers dedupe
by `id`. Rows go out in their original publish order (stream sequence), a batch at a time, and
the outbox is left as it is: a replay is a copy, not a new delivery of the row.
"""

import datetime as dt
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from events import publisher
from events.errors import StreamRecreated
from events.models import OutboxEvent
from events.publisher import OutgoingMessage, publish_messages
from events.subjects import aggregate_of

TABLE = OutboxEvent._meta.db_table

_SELECT_SQL = f"""
SELECT id::text, subject, envelope::text, coalesce(envelope->>'timestamp', ''), stream_seq, aggregate
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
    aggregate: str = ""

    def message(self) -> OutgoingMessage:
        return OutgoingMessage(
            subject=self.subject,
            payload=self.payload,
            msg_id=self.id,
            timestamp=self.timestamp,
            aggregate=self.aggregate,
        )


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


def stream_seq_before(since: dt.datetime, *, rows: QuerySet[OutboxEvent] | None = None) -> int:
    """A stream sequence below every row published at or after `since` (-1 when there is none).

    Rows go out in stream order, but `since` is about `published_at`, which the stream's index
    cannot answer: walking the stream from its start to the first row at `since` would read every
    older row. A row marked at or before `since - MARK_DELAY_BOUND` reached the stream before any
    row marked at or after `since` did, so its sequence bounds them all; the last such row is one
    read backwards on the `published_at` index, and a replay from a time reads only the rows of
    that quarter hour before it. `rows` narrows the search to one stream incarnation: sequences of
    another bound nothing, so only rows that name their incarnation serve as the bound there.
    """
    candidates = OutboxEvent.objects.all() if rows is None else rows.filter(stream_created__isnull=False)
    seq = (
        candidates.filter(
            status=OutboxEvent.Status.PUBLISHED,
            published_at__lte=since - MARK_DELAY_BOUND,
            stream_seq__isnull=False,
        )
        .order_by("-published_at")
        .values_list("stream_seq", flat=True)
        .first()
    )
    return -1 if seq is None else int(seq)


def current_stream_created() -> dt.datetime | None:
    """The incarnation (creation time) of the live stream; else that of the latest published row; else None.

    The stream is asked first (on the process's publisher connection, bounded by the connect
    timeout): a stream recreated since the last publish is known there before any row names it.
    """
    outcome = publisher.start_probe().outcome()
    if outcome.stream_created is not None:
        return outcome.stream_created
    latest = (
        OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED, stream_created__isnull=False)
        .order_by("-published_at")
        .values_list("stream_created", flat=True)
        .first()
    )
    return latest


def in_incarnation(
    queryset: QuerySet[OutboxEvent], *, stream_created: dt.datetime | None, after: int | None
) -> QuerySet[OutboxEvent]:
    """Published rows of one stream incarnation: `stream_created`'s, or the current one's.

    A stream sequence means something only within its incarnation: `?after=` from a former one is
    refused (`StreamRecreated`, 409) and the caller replays by time instead. Asked for the current
    incarnation (or none), rows published before the hub recorded incarnations (null) come too.
    """
    current = current_stream_created()
    if stream_created is not None and current is None:
        # Nothing says which incarnation is live (NATS away and no row names one): rows of the one
        # asked for, and those that predate incarnations.
        return queryset.filter(Q(stream_created=stream_created) | Q(stream_created__isnull=True))
    if stream_created is not None and stream_created != current:
        if after is not None:
            raise StreamRecreated(
                f"Stream sequence {after} belongs to the stream created at {stream_created.isoformat()}; "
                f"the stream was created again"
                + (f" at {current.isoformat()}" if current else "")
                + ", and its sequences started over. Replay the former stream by time instead: "
                f"?since=<the time of your last handled event>&stream_created={stream_created.isoformat()}."
            )
        return queryset.filter(stream_created=stream_created)
    if current is None:
        return queryset
    return queryset.filter(Q(stream_created=current) | Q(stream_created__isnull=True))


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
        StoredEvent(
            id=row_id,
            subject=name,
            payload=envelope.encode(),
            timestamp=timestamp,
            stream_seq=seq,
            # Rows published before the outbox kept aggregates have none: read it from the envelope.
            aggregate=aggregate or aggregate_of(name, json.loads(envelope).get("attributes") or {}),
        )
        for row_id, name, envelope, timestamp, seq, aggregate in rows
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
