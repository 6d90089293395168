"""The outbox relay: claim due `pending` rows, publish them pipelined, record each outcome in bulk.

A batch is one transaction: `SELECT … FOR UPDATE SKIP LOCKED` locks up to N due rows, the batch
is published pipelined (bounded by the publish timeout), and the outcomes are written before
commit. Concurrent relays, publish tasks and drain threads therefore never take the same row, and
a row is written once per attempt. A relay that dies mid-batch rolls back: its rows stay `pending`
and due, and re-publishing them is harmless because JetStream drops a repeated `Nats-Msg-Id`
inside its duplicate window.

Per-aggregate order: a row is claimed only while no older row (lower `position`) of its
aggregate is still `pending`, so each claim takes at most the oldest pending row of an aggregate,
and the next one becomes claimable once that one is published (or dead-lettered) and committed.
Several relay threads, workers and per-event tasks therefore publish an aggregate's events one
after another in commit order, whatever they race for. The check is part of the claim statement
(an anti-join on an index of pending rows' aggregates, see the model), not a per-row step in Python.

The statements are raw SQL on purpose: per-row ORM work would dominate the cost of
draining a large backlog.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events import metrics, publisher
from events.models import OutboxEvent
from events.publisher import OutgoingMessage, PublishResult, submit_messages
from events.replay import label_unlabelled_rows
from events.subjects import aggregate_of
from statehub import tracing

logger = logging.getLogger(__name__)

TABLE = OutboxEvent._meta.db_table

_CLAIM_SQL = f"""
SELECT o.id::text, o.subject, o.envelope::text, o.attempts, extract(epoch FROM o.created_at)::float8,
    coalesce(o.envelope->>'timestamp', ''), o.aggregate, coalesce(o.traceparent, ''), coalesce(o.tracestate, '')
FROM {TABLE} AS o
WHERE o.status = 'pending' AND o.next_attempt_at <= %(now)s {{only}}
    AND (o.aggregate = '' OR NOT EXISTS (
        SELECT 1 FROM {TABLE} AS older
        WHERE (CASE WHEN older.status = 'pending' THEN older.aggregate END) = o.aggregate
            AND older.position < o.position
    ))
ORDER BY o.next_attempt_at
LIMIT %(limit)s
FOR UPDATE OF o SKIP LOCKED
"""  # noqa: S608 - table name from the model, values are parameters

_MARK_SQL = f"""
UPDATE {TABLE} AS o SET
    status = v.status, attempts = v.attempts, next_attempt_at = v.next_attempt_at,
    published_at = v.published_at, stream_seq = v.stream_seq, last_error = v.last_error
FROM unnest(
    %s::uuid[], %s::text[], %s::integer[], %s::timestamptz[], %s::timestamptz[], %s::bigint[], %s::text[]
) AS v(id, status, attempts, next_attempt_at, published_at, stream_seq, last_error)
WHERE o.id = v.id AND o.status = 'pending'
"""  # noqa: S608 - table name from the model, values are parameters


# The common case, every row acknowledged, passes ids and sequences as two plain strings: far
# cheaper to send than typed arrays, which matters when draining a large backlog.
_MARK_PUBLISHED_SQL = f"""
UPDATE {TABLE} AS o SET
    status = 'published', next_attempt_at = NULL, published_at = %s, stream_seq = v.stream_seq, last_error = '',
    stream_created = %s
FROM unnest(string_to_array(%s, ',')::uuid[], string_to_array(%s, ',')::bigint[]) AS v(id, stream_seq)
WHERE o.id = v.id AND o.status = 'pending'
"""  # noqa: S608 - table name from the model, values are parameters


@dataclass(frozen=True)
class ClaimedEvent:
    """A pending row locked by this transaction for one publish attempt, with its wire payload."""

    id: str
    subject: str
    payload: bytes
    attempts: int
    created_epoch: float
    timestamp: str = ""
    aggregate: str = ""
    traceparent: str = ""
    tracestate: str = ""

    def message(self) -> OutgoingMessage:
        return OutgoingMessage(
            subject=self.subject,
            payload=self.payload,
            msg_id=self.id,
            timestamp=self.timestamp,
            # A row without one (recorded before the outbox kept aggregates): read it from the envelope.
            aggregate=self.aggregate or aggregate_of(self.subject, json.loads(self.payload).get("attributes") or {}),
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )


@dataclass
class RelayReport:
    """How many claimed rows ended in each outcome during one relay run."""

    published: int = 0
    skipped: int = 0
    unavailable: int = 0
    retried: int = 0
    failed: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return self.published + self.skipped + self.unavailable + self.retried + self.failed

    def add(self, other: RelayReport) -> None:
        """Count `other`'s outcomes in this report too."""
        self.published += other.published
        self.skipped += other.skipped
        self.unavailable += other.unavailable
        self.retried += other.retried
        self.failed += other.failed
        self.batches += other.batches
        self.errors += [error for error in other.errors if error not in self.errors]

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "published": self.published,
            "skipped": self.skipped,
            "unavailable": self.unavailable,
            "retried": self.retried,
            "failed": self.failed,
            "batches": self.batches,
        }


def backoff_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: exponential, capped, with jitter."""
    ceiling = min(settings.EVENTS_BACKOFF_CAP_S, settings.EVENTS_BACKOFF_BASE_S * 2 ** max(attempts - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not security


def claim_due_events(
    *, limit: int, event_id: uuid.UUID | str | None = None, aggregate: str | None = None
) -> list[ClaimedEvent]:
    """Lock up to `limit` due pending rows (or just `event_id`, or only `aggregate`'s), skipping rows others hold.

    A row whose aggregate has an older pending row is not due yet, so a batch holds at most one row
    per aggregate. Must run inside the transaction that records the outcomes: the locks are the
    claim. The envelope is sent as PostgreSQL renders the stored JSON (same document, no re-encoding).
    """
    params: dict[str, Any] = {"now": timezone.now(), "limit": limit}
    only = ""
    if event_id is not None:
        only = "AND o.id = %(event_id)s"
        params["event_id"] = uuid.UUID(str(event_id))
    elif aggregate is not None:
        # Spelled like the index expression, so the aggregate's pending rows are found through it.
        only = "AND (CASE WHEN o.status = 'pending' THEN o.aggregate END) = %(aggregate)s"
        params["aggregate"] = aggregate
    with connection.cursor() as cursor:
        if not only:
            # A batch claim must walk the (status, next_attempt_at) index in order and stop at the
            # limit. Right after a backlog formed, the table's statistics still describe the small
            # table before it, and the planner then prefers collecting every due row and sorting
            # them: half a second per batch of 500 on a 50,000-row backlog instead of 15 ms.
            cursor.execute("SELECT set_config('enable_sort', 'off', true)")
        cursor.execute(_CLAIM_SQL.format(only=only), params)
        rows = cursor.fetchall()
        if not only:
            cursor.execute("SELECT set_config('enable_sort', 'on', true)")
    return [
        ClaimedEvent(
            id=row_id,
            subject=subject,
            payload=envelope.encode(),
            attempts=attempts,
            created_epoch=created,
            timestamp=timestamp,
            aggregate=aggregate,
            traceparent=traceparent,
            tracestate=tracestate,
        )
        for row_id, subject, envelope, attempts, created, timestamp, aggregate, traceparent, tracestate in rows
    ]


def unavailable_pause() -> float:
    """Seconds a row waits after NATS was away: the connection's back-off, never past the next sweep."""
    return min(settings.NATS_DOWN_BACKOFF_S, settings.EVENTS_RELAY_INTERVAL_S)


def record_outcomes(events: Sequence[ClaimedEvent], results: Sequence[PublishResult], report: RelayReport) -> None:
    """Write each claimed row's outcome in one statement: published, skipped, retry later, or failed.

    NATS being away is not the row's fault: its attempts stay as they were and it is due again after
    a short pause. Only an error of the message itself counts toward `EVENTS_MAX_ATTEMPTS`.
    """
    if not events:
        return
    now = timezone.now()
    now_epoch = now.timestamp()
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
    # Ids and sequences of the published rows, by the stream incarnation they went to (almost always one).
    published: dict[dt.datetime | None, tuple[list[str], list[str]]] = {}
    latencies: list[float] = []
    max_attempts = settings.EVENTS_MAX_ATTEMPTS
    for event, result in zip(events, results, strict=True):
        attempts, next_attempt_at, published_at, stream_seq = event.attempts, None, None, None
        if result.ok:
            ids, seqs = published.setdefault(result.stream_created, ([], []))
            ids.append(event.id)
            seqs.append(str(result.stream_seq or 0))
            report.published += 1
            latencies.append(now_epoch - event.created_epoch)
            continue
        if result.skipped:
            status, error = OutboxEvent.Status.SKIPPED, result.error
            report.skipped += 1
        elif result.unavailable:
            status, error = OutboxEvent.Status.PENDING, result.error[:2000]
            next_attempt_at = now + dt.timedelta(seconds=unavailable_pause())
            report.unavailable += 1
            if error not in report.errors:
                report.errors.append(error)
        else:
            attempts += 1
            error = result.error[:2000]
            if attempts >= max_attempts:
                status = OutboxEvent.Status.FAILED
                report.failed += 1
                logger.error(
                    "Event %s failed after %d attempt(s): %s", event.id, attempts, error, extra={"event_id": event.id}
                )
            else:
                status = OutboxEvent.Status.PENDING
                next_attempt_at = now + dt.timedelta(seconds=backoff_delay(attempts))
                report.retried += 1
            if error not in report.errors:
                report.errors.append(error)
        for column, value in zip(
            columns,
            (event.id, str(status), attempts, next_attempt_at, published_at, stream_seq, error),
            strict=True,
        ):
            column.append(value)
    with connection.cursor() as cursor:
        for stream_created, (ids, seqs) in published.items():
            cursor.execute(_MARK_PUBLISHED_SQL, [now, stream_created, ",".join(ids), ",".join(seqs)])
        if columns[0]:
            cursor.execute(_MARK_SQL, list(columns))
    metrics.observe_latencies(latencies)
    for outcome in ("published", "skipped", "unavailable", "retry", "permanent"):
        metrics.count_outcome(outcome, sum(1 for result in results if result.outcome == outcome))


def publish_claimed(events: list[ClaimedEvent], *, timeout: float | None = None) -> RelayReport:
    """Publish locked rows pipelined and record the outcomes (in the claiming transaction).

    Used right after the write (the per-event task): each publish span continues the stored context.
    """
    report = RelayReport()
    if events:
        messages = [event.message() for event in events]
        results = tracing.traced_publish(
            messages, lambda chunk: submit_messages(chunk, timeout=timeout).results(), linked=False
        )
        record_outcomes(events, results, report)
        report.batches = 1
    return report


def publish_event_now(event_id: uuid.UUID | str, *, timeout: float | None = None) -> RelayReport:
    """Publish one row if it is pending, due, not held by a relay and first in its aggregate; then its successors.

    A row whose aggregate has an older pending row is left to whoever publishes that one: this
    task once that row is published (it goes on with the aggregate's next rows, in order, up to
    `EVENTS_RELAY_BATCH_SIZE`), or the relay.
    """
    with transaction.atomic():
        claimed = claim_due_events(limit=1, event_id=event_id)
        report = publish_claimed(claimed, timeout=timeout)
    if not claimed or not claimed[0].aggregate:
        return report
    aggregate = claimed[0].aggregate
    while report.published and report.batches < settings.EVENTS_RELAY_BATCH_SIZE:
        with transaction.atomic():
            following = claim_due_events(limit=1, aggregate=aggregate)
            if not following:
                break
            step = publish_claimed(following, timeout=timeout)
        report.add(step)
        if not step.published:
            break
    return report


def relay_pending_events(
    *, batch_size: int | None = None, max_batches: int | None = None, threads: int | None = None
) -> RelayReport:
    """Drain due pending rows batch by batch until none is left (or NATS is unreachable).

    The sweep first probes NATS, whatever the publisher's back-off: while NATS does not answer it
    claims and writes nothing, and the first sweep after NATS returns drains everything.
    `threads` (default `EVENTS_RELAY_THREADS`) drains run side by side, this thread being one of
    them; each has its own database connection, and SKIP LOCKED claims keep them apart, so the
    database round trips of one overlap the others' work.
    """
    probe = publisher.probe_outcome()
    if probe.reason:
        logger.warning("Relay paused: %s", probe.reason)
        return RelayReport(errors=[probe.reason])
    if probe.stream_created is not None:
        label_unlabelled_rows(probe.stream_created)
    count = max(1, threads if threads is not None else settings.EVENTS_RELAY_THREADS)
    size = batch_size or settings.EVENTS_RELAY_BATCH_SIZE
    reports = [RelayReport() for _ in range(count)]
    helpers = [
        threading.Thread(target=_drain_in_thread, args=(size, max_batches, report), name=f"relay-{number}")
        for number, report in enumerate(reports[1:], start=1)
    ]
    for helper in helpers:
        helper.start()
    try:
        _drain(size, max_batches, reports[0])
    finally:
        for helper in helpers:
            helper.join()
    report = RelayReport()
    for part in reports:
        report.add(part)
    if report.claimed:
        logger.info("Relay: %s", report.as_dict())
    return report


def _drain_in_thread(size: int, max_batches: int | None, report: RelayReport) -> None:
    try:
        _drain(size, max_batches, report)
    except Exception:
        logger.exception("Relay thread failed; its batch rolled back and stays pending.")
    finally:
        connection.close()


def _relaxed_commit() -> None:
    """Do not wait for the WAL flush when committing outcomes.

    Losing a just-committed "published" mark in a database crash only means publishing the row
    again, which JetStream's duplicate window and consumers' dedupe by id already absorb.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _drain(size: int, max_batches: int | None, report: RelayReport) -> None:
    """One drain loop: claim, publish and record a batch per transaction until nothing is due."""
    # Only a transaction of our own may relax its commit; never a caller's enclosing one.
    own_transaction = not connection.in_atomic_block
    while max_batches is None or report.batches < max_batches:
        with transaction.atomic():
            if own_transaction:
                _relaxed_commit()
            batch = claim_due_events(limit=size)
            if not batch:
                return
            report.batches += 1
            messages = [event.message() for event in batch]
            # Later than the writes, in a trace of its own: each publish span links to its write's context.
            results = tracing.traced_publish(messages, lambda chunk: submit_messages(chunk).results(), linked=True)
            record_outcomes(batch, results, report)
        # Every row of a batch coming back "unavailable" means NATS is away: leave the rest for later.
        if all(result.unavailable for result in results):
            return
