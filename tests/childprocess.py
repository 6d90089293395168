"""What a process started by a test needs to reach this session's servers: one place for all of them."""

import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from django.db import connection


def database_url() -> str:
    """DATABASE_URL of this session's test database, over TCP or a Unix socket as the session itself connects.

    django-environ puts a socket directory (`postgres://user@/db?host=/dir`, as the embedded server
    gives) in `OPTIONS["host"]` and leaves `HOST` empty, so both places are read.
    """
    database = connection.settings_dict
    credentials = quote(database.get("USER") or "", safe="")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"], safe="")
    name = quote(database["NAME"], safe="")
    options = database.get("OPTIONS") or {}
    host = database.get("HOST") or options.get("host") or "127.0.0.1"
    if host.startswith("/"):
        query = {"host": host}
        if database.get("PORT") or options.get("port"):
            query["port"] = str(database.get("PORT") or options["port"])
        return f"postgres://{credentials}@/{name}?{urlencode(query)}"
    port = database.get("PORT") or options.get("port") or 5432
    return f"postgres://{credentials}@{quote(host, safe='')}:{port}/{name}"


def environment(**values: str) -> dict[str, str]:
    """This process's environment pointed at the test database, with the given variables set on top."""
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url()
    env.setdefault("DJANGO_SECRET_KEY", "test-only-" + "x" * 50)
    env.update(values)
    return env


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> None:
    """A failure guard only: the deadline is generous, and nothing is asserted about the time taken."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {seconds} s")
