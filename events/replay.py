"""Re-publishing stored envelopes, for a consumer that lost its place (`manage.py replay_events`).

Every published row is sent again exactly as the relay sent it: the envelope as PostgreSQL renders
the stored JSON, `Nats-Msg-Id` = envelope id and the same CloudEvents headers. JetStream drops a
repeat inside its duplicate window; beyond it the message is stored again and consumers dedupe
by `id`. Rows go out in their original publish order (stream sequence), a batch at a time, and
the outbox is left as it is: a replay is a copy, not a new delivery of the row.
"""

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from events import publisher
from events.errors import StreamRecreated, UnknownIncarnation
from events.models import OutboxEvent
from events.publisher import OutgoingMessage, publish_messages
from events.subjects import aggregate_of
from statehub import tracing

TABLE = OutboxEvent._meta.db_table

_SELECT_SQL = f"""
SELECT id::text, subject, envelope::text, coalesce(envelope->>'timestamp', ''), stream_seq, aggregate,
    coalesce(traceparent, ''), coalesce(tracestate, '')
FROM {TABLE}
WHERE status = 'published' AND stream_seq IS NOT NULL AND published_at >= %(since)s
    AND stream_created IS NOT DISTINCT FROM %(incarnation)s AND stream_seq > %(after)s {{only}}
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
    traceparent: str = ""
    tracestate: str = ""

    def message(self) -> OutgoingMessage:
        return OutgoingMessage(
            subject=self.subject,
            payload=self.payload,
            msg_id=self.id,
            timestamp=self.timestamp,
            aggregate=self.aggregate,
            # The original write's context: a consumer of the copy joins that trace.
            traceparent=self.traceparent,
            tracestate=self.tracestate,
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
    another bound nothing.
    """
    try:
        before = since - MARK_DELAY_BOUND
    except OverflowError:  # a `since` at the start of time: nothing is older
        return -1
    candidates = OutboxEvent.objects.all() if rows is None else rows
    seq = (
        candidates.filter(
            status=OutboxEvent.Status.PUBLISHED,
            published_at__lte=before,
            stream_seq__isnull=False,
        )
        .order_by("-published_at")
        .values_list("stream_seq", flat=True)
        .first()
    )
    return -1 if seq is None else int(seq)


# How long a process trusts the live stream's creation time it read for a replay request.
CURRENT_INCARNATION_TTL_S = 5.0
_current_lock = threading.Lock()
_current: tuple[float, dt.datetime | None] | None = None


def current_stream_created(*, fresh: bool = False) -> dt.datetime | None:
    """The incarnation (creation time) of the live stream; else that of the latest published row; else None.

    The stream is asked first, on the process's publisher connection (bounded by the connect
    timeout), and the answer kept for `CURRENT_INCARNATION_TTL_S`, so the pages of a replay do not
    each wait on NATS: a stream recreated since the last publish is known there before any row
    names it. `fresh` asks the stream even inside that time.
    """
    global _current
    with _current_lock:
        if not fresh and _current is not None and time.monotonic() - _current[0] < CURRENT_INCARNATION_TTL_S:
            return _current[1]
    created = publisher.start_probe().outcome().stream_created
    if created is None:
        created = (
            OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED, stream_created__isnull=False)
            .order_by("-published_at")
            .values_list("stream_created", flat=True)
            .first()
        )
    with _current_lock:
        _current = (time.monotonic(), created)
    return created


def forget_current_stream_created() -> None:
    """Drop the cached live incarnation (tests)."""
    global _current
    with _current_lock:
        _current = None


@dataclass(frozen=True)
class Incarnation:
    """A stream incarnation a replay reads: its creation time (None: the rows that name none) and its rows."""

    created: dt.datetime | None
    rows: Q

    def named_rows(self) -> QuerySet[OutboxEvent]:
        """Its published rows that name it: where a bound in stream order may be looked for."""
        return OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED, stream_created=self.created)


def incarnation_rows(*, stream_created: dt.datetime | None, after: int | None) -> Incarnation:
    """The published rows of one stream incarnation: `stream_created`'s, or the live one's.

    A stream sequence means something only within its incarnation: `?after=` from a former one is
    refused (`StreamRecreated`, 409) and the caller replays it by time; an incarnation the hub never
    published to is `UnknownIncarnation` (400), never an empty answer a consumer would take for
    "nothing missed". A row with no incarnation (published before the hub recorded them, or when
    the server did not say) belongs to the incarnation that existed when it was published: the
    latest one created before it.
    """
    current = current_stream_created()
    if stream_created is not None and stream_created != current:
        current = current_stream_created(fresh=True)  # before refusing, make sure of the live one
    wanted = stream_created or current
    if stream_created is not None and current is not None and stream_created != current:
        known = OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED, stream_created=stream_created)
        if not known.exists():
            raise UnknownIncarnation(
                f"No event was published to a stream created at {stream_created.isoformat()}; the live stream "
                f"was created at {current.isoformat()}. Pass the creation time exactly as JetStream reports it "
                "(`StreamInfo.created`, microseconds, e.g. 2026-12-07T17:02:24.623705Z)."
            )
        if after is not None:
            raise StreamRecreated(
                f"Stream sequence {after} belongs to the stream created at {stream_created.isoformat()}; "
                f"the stream was created again at {current.isoformat()}, and its sequences started over. "
                "Replay the former stream by time instead: "
                f"?since=<the time of your last handled event>&stream_created={stream_created.isoformat()}."
            )
    if wanted is None:
        # Nothing names an incarnation yet: every published row is of the one stream there was.
        return Incarnation(None, Q(stream_created__isnull=True))
    rows = Q(stream_created=wanted)
    later = (
        OutboxEvent.objects.filter(
            status=OutboxEvent.Status.PUBLISHED, stream_created__isnull=False, stream_created__gt=wanted
        )
        .order_by("stream_created")
        .values_list("stream_created", flat=True)
        .first()
    )
    unlabelled = Q(stream_created__isnull=True, published_at__gte=wanted)
    if later is not None:
        unlabelled &= Q(published_at__lt=later)
    if OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED).filter(unlabelled).exists():
        rows |= unlabelled
    return Incarnation(wanted, rows)


def label_unlabelled_rows(created: dt.datetime, *, limit: int = 5000) -> int:
    """Name the live incarnation on up to `limit` published rows that name none and were published after its creation.

    The relay calls this each sweep, so rows published before the hub recorded incarnations (or
    while the server did not say) soon read from the one index a replay walks; rows published
    before `created` belong to an earlier stream and stay unnamed until they are pruned.
    """
    with connection.cursor() as cursor:
        cursor.execute(_LABEL_SQL, {"created": created, "limit": limit})
        return int(cursor.rowcount)


_LABEL_SQL = f"""
UPDATE {TABLE} SET stream_created = %(created)s
WHERE id IN (
    SELECT id FROM {TABLE}
    WHERE status = 'published' AND stream_created IS NULL AND published_at >= %(created)s
    LIMIT %(limit)s
)
"""  # noqa: S608 - table name from the model, values are parameters


def incarnations_since(since: dt.datetime) -> list[dt.datetime | None]:
    """The stream incarnations rows published at or after `since` went to, in the order they existed.

    Rows that name none come first: the relay names every row published to the live stream, so
    those left are of a stream older than any named one.
    """
    named = sorted(
        {
            created
            for created in OutboxEvent.objects.filter(
                status=OutboxEvent.Status.PUBLISHED, published_at__gte=since, stream_created__isnull=False
            ).values_list("stream_created", flat=True)
            if created is not None
        }
    )
    unnamed = OutboxEvent.objects.filter(
        status=OutboxEvent.Status.PUBLISHED, published_at__gte=since, stream_created__isnull=True
    ).exists()
    return ([None] if unnamed else []) + list(named)


def published_events(
    *,
    since: dt.datetime,
    incarnation: dt.datetime | None,
    subject: str = "",
    after: int = -1,
    limit: int = 500,
) -> list[StoredEvent]:
    """Up to `limit` rows of one stream incarnation published at or after `since` (of `subject`), after `after`."""
    rows = OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED, stream_created=incarnation)
    after = max(after, stream_seq_before(since, rows=rows))
    with connection.cursor() as cursor:
        only = "AND subject = %(subject)s" if subject else ""
        parameters: dict[str, Any] = {
            "since": since,
            "subject": subject,
            "after": after,
            "limit": limit,
            "incarnation": incarnation,
        }
        cursor.execute(_SELECT_SQL.format(only=only), parameters)
        found = cursor.fetchall()
    return [
        StoredEvent(
            id=row_id,
            subject=name,
            payload=envelope.encode(),
            timestamp=timestamp,
            stream_seq=seq,
            # Rows published before the outbox kept aggregates have none: read it from the envelope.
            aggregate=aggregate or aggregate_of(name, json.loads(envelope).get("attributes") or {}),
            traceparent=traceparent,
            tracestate=tracestate,
        )
        for row_id, name, envelope, timestamp, seq, aggregate, traceparent, tracestate in found
    ]


def stored_batches(*, since: dt.datetime, subject: str = "", size: int = 500) -> Iterator[list[StoredEvent]]:
    """Every row published at or after `since`, in publish order: incarnation by incarnation, each in stream order."""
    for incarnation in incarnations_since(since):
        after = -1
        while batch := published_events(since=since, incarnation=incarnation, subject=subject, after=after, limit=size):
            yield batch
            after = batch[-1].stream_seq


def replay_plan(*, since: dt.datetime, subject: str = "") -> ReplayReport:
    """What a replay would send, without sending: the count and the first and last ids."""
    report = ReplayReport()
    for batch in stored_batches(since=since, subject=subject, size=5000):
        report.first_id = report.first_id or batch[0].id
        report.last_id, report.last_stream_seq = batch[-1].id, batch[-1].stream_seq
        report.sent += len(batch)
    return report


def replay_published_events(*, since: dt.datetime, subject: str = "", batch_size: int | None = None) -> ReplayReport:
    """Re-publish every row published at or after `since`, in publish order; stop at the first batch JetStream refuses.

    `NATS_URL` must be set (the caller checks). On a refusal `errors` says why and
    `last_stream_seq` is the last row sent successfully, so nothing before it needs replaying again.
    """
    report = ReplayReport()
    for batch in stored_batches(since=since, subject=subject, size=batch_size or settings.EVENTS_RELAY_BATCH_SIZE):
        messages = [event.message() for event in batch]
        # A copy sent later: each publish span links to the original write's context, which the message keeps.
        results = tracing.traced_publish(messages, publish_messages, linked=True)
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
    return report
