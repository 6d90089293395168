"""Running Django ORM work from the MCP server's event loop."""

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from anyio import to_thread
from django.db import close_old_connections

T = TypeVar("T")

# Tool calls running at once, each on its own worker thread with its own database connection.
# One client's long call (a consistency check of a big repo) takes one of them, not the server.
DB_THREADS = 8

_limiter: anyio.CapacityLimiter | None = None


def _with_fresh_connection(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # A long-lived server has no request cycle to retire broken or expired connections; do it per call.
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def run_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `fn` on a worker thread (one of `DB_THREADS`, each with its own connection) and await its result."""
    global _limiter
    if _limiter is None:
        # Created inside the running event loop, as anyio requires.
        _limiter = anyio.CapacityLimiter(DB_THREADS)
    return await to_thread.run_sync(lambda: _with_fresh_connection(fn, *args, **kwargs), limiter=_limiter)
