"""Django's PostgreSQL backend, with new connections waiting out a server restart.

While PostgreSQL restarts (a minor upgrade, a configuration change, a failover), a connection
attempt is refused with "the database system is shutting down" or "... is starting up" for a
second or two, and between the old server's exit and the new one's start the socket is simply
gone (refused). Without a wait every request in that window answers 503; with it they are only
slower. "Shutting down" and "starting up" are waited on for up to `DATABASE_RESTART_WAIT_S`; a
refused connection for at most `AWAY_WAIT_S` of it, so a server that is really down still answers
503 within a few seconds; a server that does not answer at all is left to the connect timeout.
A write whose session the restart ends before its commit is run again by the view
(`statehub.db.restarts`). `/health` reports the database as it is at that instant, inside
`without_restart_wait()`.
"""

import contextlib
import contextvars
import logging
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base

logger = logging.getLogger(__name__)

# What PostgreSQL answers while it restarts; the wait covers up to DATABASE_RESTART_WAIT_S.
RESTARTING = (
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is not yet accepting connections",
    "the database system is in recovery mode",
)
# What a client sees in the instant between the old server's exit and the new one's start.
AWAY = ("Connection refused", "No such file or directory")
AWAY_WAIT_S = 2.5

_waiting = contextvars.ContextVar("statehub_database_restart_wait", default=True)


@contextlib.contextmanager
def without_restart_wait() -> Iterator[None]:
    """New connections made inside fail at the first refusal (for probes that must answer now)."""
    token = _waiting.set(False)
    try:
        yield
    finally:
        _waiting.reset(token)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        started = time.monotonic()
        delay = 0.05
        while True:
            try:
                return super().get_new_connection(conn_params)
            except psycopg.OperationalError as exc:
                waited = time.monotonic() - started
                if waited + delay > _wait_limit(str(exc)):
                    raise
                logger.info("PostgreSQL is not accepting connections (%s); trying again.", str(exc).strip()[-80:])
                time.sleep(delay)
                delay = min(delay * 2, 0.5)


def _wait_limit(message: str) -> float:
    restart_wait = float(getattr(settings, "DATABASE_RESTART_WAIT_S", 0)) if _waiting.get() else 0.0
    if any(text in message for text in RESTARTING):
        return restart_wait
    if any(text in message for text in AWAY):
        return min(AWAY_WAIT_S, restart_wait)
    return 0.0
