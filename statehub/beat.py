"""Celery beat's scheduler for the hub: exactly one beat per database, enforced with an advisory lock.

Two beats would each run the relay sweep and the prune on their own clock. Nothing is lost or
duplicated by that (the relay claims rows with SKIP LOCKED; JetStream drops repeated ids), but
it doubles the work and hides a deployment mistake, so a second beat refuses to start.
"""

import logging
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler
from django.db import connections

logger = logging.getLogger(__name__)

# Key of the session-level advisory lock the running beat holds ("SHBT" in ASCII).
BEAT_LOCK_KEY = 0x53484254


class SingleBeatScheduler(PersistentScheduler):
    """The default file-backed scheduler, started only while no other beat holds the database's beat lock."""

    def setup_schedule(self) -> None:
        self._lock_connection = _hold_beat_lock()
        # The state file's directory (default var/, not in a fresh checkout) is made on first start.
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()


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
