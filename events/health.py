"""Health checks behind `/health`: the database, NATS reachability, the stream's settings and the outbox backlog.

The report is cached for `HEALTH_CACHE_S` per process, so however often monitors (or anyone) call
`/health`, the database and NATS see at most one probe per process in that time. NATS is probed on
the process's long-lived publisher connection, never a connection per call, and beside the
database check, so a hung database and a hung NATS together still answer within about
`DATABASE_CONNECT_TIMEOUT_S` (2 s by default).
"""

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Min, Q
from django.utils import timezone

from events import publisher
from events.models import OutboxEvent
from statehub.db.postgresql.base import without_restart_wait

logger = logging.getLogger(__name__)

_cache_lock = threading.Lock()
_cached: tuple[float, bool, dict[str, Any]] | None = None


def database_status() -> str:
    """`ok` when a trivial query answers, else `unreachable`."""
    try:
        with without_restart_wait(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("Health check: the database is unreachable.", exc_info=True)
        return "unreachable"
    return "ok"


def _nats_state(outcome: publisher.ProbeOutcome) -> tuple[str, str, list[str]]:
    """NATS (`unconfigured`, `ok`, `unreachable`), the stream against the settings, and how it drifted."""
    if not settings.NATS_URL:
        return "unconfigured", "unconfigured", []
    if outcome.reason:
        logger.info("Health check: %s", outcome.reason)
        return "unreachable", "unknown", []
    if outcome.drift:
        logger.warning("Health check: stream %s differs from the settings: %s", settings.NATS_STREAM, outcome.drift)
    return "ok", outcome.stream, [str(drift) for drift in outcome.drift]


def outbox_status() -> dict[str, Any]:
    """Counts of `pending` and `failed` rows and the age in seconds of the oldest pending one (null if none)."""
    # Only the rows the answer is about, found through the (status, next_attempt_at) index: the
    # published history may hold millions of rows.
    summary = OutboxEvent.objects.filter(status__in=[OutboxEvent.Status.PENDING, OutboxEvent.Status.FAILED]).aggregate(
        pending=Count("id", filter=Q(status=OutboxEvent.Status.PENDING)),
        failed=Count("id", filter=Q(status=OutboxEvent.Status.FAILED)),
        oldest_pending=Min("created_at", filter=Q(status=OutboxEvent.Status.PENDING)),
    )
    oldest = summary["oldest_pending"]
    age = round((timezone.now() - oldest).total_seconds(), 3) if oldest else None
    return {"pending": summary["pending"], "failed": summary["failed"], "oldest_pending_age_s": age}


def health_report() -> tuple[bool, dict[str, Any]]:
    """The `/health` body and whether the service can serve (false when the database is unreachable).

    Served from this process's cache when it is younger than `HEALTH_CACHE_S`.
    """
    global _cached
    with _cache_lock:
        cached = _cached
        if cached is not None and time.monotonic() - cached[0] < settings.HEALTH_CACHE_S:
            return cached[1], cached[2]
        serving, body = _fresh_report()
        _cached = (time.monotonic(), serving, body)
        return serving, body


def reset_health_cache() -> None:
    """Forget the cached report (tests)."""
    global _cached
    with _cache_lock:
        _cached = None


def _fresh_report() -> tuple[bool, dict[str, Any]]:
    nats_probe = publisher.start_probe()
    database = database_status()
    outbox: dict[str, Any] = {"pending": None, "failed": None, "oldest_pending_age_s": None}
    if database == "ok":
        try:
            outbox = outbox_status()
        except DatabaseError:
            logger.warning("Health check: could not read the outbox.", exc_info=True)
            database = "unreachable"
    nats_state, stream, drift = _nats_state(nats_probe.outcome())
    if database != "ok":
        overall = "down"
    elif nats_state == "unreachable" or stream == "drifted" or (outbox["failed"] or 0) > 0:
        overall = "degraded"
    else:
        overall = "ok"
    body = {"status": overall, "database": database, "nats": nats_state, "stream": stream, "stream_drift": drift}
    return database == "ok", {**body, "outbox": outbox}
