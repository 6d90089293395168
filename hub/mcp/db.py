"""Running Django ORM work from the MCP server's event loop."""

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

T = TypeVar("T")


def _with_fresh_connection(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # A long-lived server has no request cycle to retire broken or expired connections; do it per call.
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def run_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `fn` in the one thread that owns the server's database connection, and await its result."""
    return await sync_to_async(_with_fresh_connection, thread_sensitive=True)(fn, *args, **kwargs)
