"""Celery beat's scheduler for the hub: exactly one beat per database, enforced with an advisory lock.

Two beats would each run the relay sweep and the prune on their own clock. Nothing is lost or
duplicated by that (the relay claims rows with SKIP LOCKED; JetStream drops repeated ids), but
it doubles the work and hides a deployment mistake, so a second beat refuses to start.

The lock is a session lock: it lives exactly as long as the beat's own database session. When
that session ends under the beat (PostgreSQL restarted or failed over, the backend terminated),
PostgreSQL has released the lock and another beat may take it at once. So the beat asks its
session before every tick whether it still holds the lock, and when it does not, it sends
nothing more and exits with status 1; its supervisor starts it again, and the new process either
takes the lock or finds that another beat has it.
"""

import logging
from pathlib import Path
from typing import Any

import psycopg
from celery.beat import PersistentScheduler
from django.db import connections

logger = logging.getLogger(__name__)

# Key of the session-level advisory lock the running beat holds ("SHBT" in ASCII).
BEAT_LOCK_KEY = 0x53484254

# pg_locks shows a bigint advisory key as its high and low 32 bits (classid, objid), objsubid 1.
_HOLDS_BEAT_LOCK = """
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
          AND classid::bigint * 4294967296 + objid::bigint = %s AND objsubid = 1
    )
"""


class SingleBeatScheduler(PersistentScheduler):
    """The default file-backed scheduler, ticking only while this beat holds the database's beat lock."""

    _lock_connection: Any = None
    _lock_lost = False

    def setup_schedule(self) -> None:
        self._lock_connection = _hold_beat_lock()
        # The state file's directory (default var/, not in a fresh checkout) is made on first start.
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Send what is due, after checking that the beat lock is still this beat's; exit when it is not."""
        problem = _beat_lock_problem(self._lock_connection)
        if problem:
            self._lock_lost = True
            logger.critical(
                "This celery beat no longer holds the beat lock (advisory lock %#x): %s. "
                "Another beat may be running now; this one sends nothing more and exits.",
                BEAT_LOCK_KEY,
                problem,
            )
            raise SystemExit(1)
        return float(super().tick(*args, **kwargs))

    def close(self) -> None:
        """Save the schedule and release the beat lock; after a lost lock, carry exit status 1 out."""
        try:
            super().close()
        finally:
            if self._lock_connection is not None:
                self._lock_connection.close()
        if self._lock_lost:
            # celery.beat.Service.start ends its loop on a SystemExit from tick() without passing it
            # on, then closes the scheduler in its `finally`: raised again here, it reaches the process.
            raise SystemExit(1)


def _hold_beat_lock() -> Any:
    """Take the beat lock on a connection kept for the process's lifetime; exit if another beat holds it."""
    database = connections["default"]
    # A connection of its own: Django's may be closed between tasks, which would release the lock.
    lock_connection = database.get_new_connection(database.get_connection_params())
    lock_connection.autocommit = True
    with lock_connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [BEAT_LOCK_KEY])
        (acquired,) = cursor.fetchone()
    if not acquired:
        lock_connection.close()
        logger.critical(
            "Another celery beat already runs against this database (advisory lock %#x is held). "
            "Run exactly one beat; this one exits.",
            BEAT_LOCK_KEY,
        )
        raise SystemExit(1)
    logger.info("Holding the beat lock (advisory lock %#x): this is the only beat.", BEAT_LOCK_KEY)
    return lock_connection


def _beat_lock_problem(lock_connection: Any) -> str | None:
    """Why the lock's session no longer holds the beat lock, or None while it does (a dead session holds nothing)."""
    try:
        with lock_connection.cursor() as cursor:
            cursor.execute(_HOLDS_BEAT_LOCK, [BEAT_LOCK_KEY])
            (held,) = cursor.fetchone()
    except psycopg.Error as exc:
        message = " ".join(str(exc).split()) or "no message"
        return f"its database session ended ({type(exc).__name__}: {message})"
    return None if held else "its database session no longer holds it"
