"""Writes that a database restart cuts off before they commit run once more, instead of answering 503.

A restart (or failover) of PostgreSQL terminates every session, including one in the middle of a
request's transaction. Nothing of that transaction was committed, so running the request's work
again on a new connection (which waits out the restart, `statehub.db.postgresql`) gives the
client the answer it would have had. A cut during the COMMIT itself leaves the outcome unknown:
that one is not retried and answers 503 `database_unavailable` with `Retry-After`, as does a
database that stays away or a statement that times out (the connection survives those).
"""

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, connection, transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")


# SQLSTATE classes of a session the server ended: 57P01 admin_shutdown (a restart's fast shutdown),
# 57P02 crash_shutdown, 57P03 cannot_connect_now; 08 connection exceptions. Not 57014 (a statement
# timeout or cancel: the session lives on and the database is only slow).
CUT_SQLSTATES = ("57P01", "57P02", "57P03")
CUT_MESSAGES = ("server closed the connection unexpectedly", "consuming input failed", "connection is lost")


def is_cut(exc: BaseException) -> bool:
    """Whether `exc` says the server ended the session (rather than refused or timed out a statement)."""
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None) or ""
    if sqlstate in CUT_SQLSTATES or sqlstate.startswith("08"):
        return True
    message = str(exc)
    return any(text in message for text in CUT_MESSAGES)


def run_retrying_a_cut(work: Callable[[], T]) -> T:
    """Run `work` in one transaction; run it once more if the connection is lost before the commit.

    Inside an enclosing transaction (a test's, or a caller's) it just runs `work`: the enclosing
    transaction is the one a cut would lose, and only its owner can run it again.
    """
    if connection.in_atomic_block:
        return work()
    for attempt in (1, 2):
        committing = False
        try:
            with transaction.atomic():
                result = work()
                committing = True
            return result
        except (OperationalError, InterfaceError) as exc:
            if attempt == 2 or committing or not is_cut(exc):
                raise
            logger.warning("The database connection was lost before the commit (%s); running the request again", exc)
            connection.close()
    raise AssertionError("unreachable")


def retries_a_cut(handler: Callable[..., T]) -> Callable[..., T]:
    """Decorate an API handler whose work is one transaction: a cut before its commit runs it again."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run_retrying_a_cut(lambda: handler(*args, **kwargs))

    return wrapper
