"""Health checks behind `/health`: the database, NATS reachability and the outbox backlog."""

import asyncio
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Min, Q
from django.utils import timezone

from events.models import OutboxEvent

logger = logging.getLogger(__name__)

NATS_CHECK_TIMEOUT_S = 1.0


def database_status() -> str:
    """`ok` when a trivial query answers, else `unreachable`."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("Health check: the database is unreachable.", exc_info=True)
        return "unreachable"
    return "ok"


async def _nats_ping(url: str, timeout: float) -> None:
    import nats

    async def ignore_error(_error: Exception) -> None:
        return None

    client = await nats.connect(
        url,
        connect_timeout=timeout,
        allow_reconnect=False,
        max_reconnect_attempts=0,
        error_cb=ignore_error,
    )
    try:
        await client.flush(timeout=max(1, round(timeout)))
    finally:
        await client.close()


def nats_status(url: str | None = None, *, timeout: float = NATS_CHECK_TIMEOUT_S) -> str:
    """`unconfigured` without NATS_URL, `ok` if a connection and a ping succeed within `timeout`, else `unreachable`."""
    url = settings.NATS_URL if url is None else url
    if not url:
        return "unconfigured"
    try:
        asyncio.run(asyncio.wait_for(_nats_ping(url, timeout), timeout=timeout + 0.5))
    except Exception as exc:
        logger.info("Health check: NATS at %s is unreachable: %r", url, exc)
        return "unreachable"
    return "ok"


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
    """The `/health` body and whether the service can serve (false when the database is unreachable)."""
    database = database_status()
    nats_state = nats_status()
    outbox: dict[str, Any] = {"pending": None, "failed": None, "oldest_pending_age_s": None}
    if database == "ok":
        try:
            outbox = outbox_status()
        except DatabaseError:
            logger.warning("Health check: could not read the outbox.", exc_info=True)
            database = "unreachable"
    if database != "ok":
        overall = "down"
    elif nats_state == "unreachable" or (outbox["failed"] or 0) > 0:
        overall = "degraded"
    else:
        overall = "ok"
    return database == "ok", {"status": overall, "database": database, "nats": nats_state, "outbox": outbox}
