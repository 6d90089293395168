"""Running Django ORM work from the MCP server's event loop."""

from collections.abc import Callable
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from django.db import close_old_connections, connections

T = TypeVar("T")

# Tool calls running at once, each on a worker thread of its own with its own database connection:
# one client's long call (a consistency check of a big repo) holds one of them, not the server.
DB_THREADS = 8

_limiter: RunVar[CapacityLimiter] = RunVar("statehub_mcp_db_limiter")


def _with_own_connection(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        # Worker threads come and go; a connection left in one would outlive any use of it.
        connections.close_all()


async def run_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `fn` on a worker thread (at most `DB_THREADS` at once, each with its own connection) and await it."""
    try:
        limiter = _limiter.get()
    except LookupError:
        limiter = CapacityLimiter(DB_THREADS)  # one per event loop, created inside it as anyio requires
        _limiter.set(limiter)
    return await to_thread.run_sync(lambda: _with_own_connection(fn, *args, **kwargs), limiter=limiter)
