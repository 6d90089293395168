"""gunicorn settings for the hub's web process (`gunicorn -c python:statehub.gunicorn statehub.wsgi`).

The command line (docs/deploy.md) carries the flags an operator tunes; this module holds the
hooks that keep Prometheus' multiprocess files true to the processes that are alive, and the
access log's client address.
"""

import logging
import os
from typing import Any

from gunicorn.glogging import Logger

from statehub.multiprocess_metrics import clear_dead_process_files, mark_process_dead


class ClientAddressLogger(Logger):
    """gunicorn's logger, whose access log names the client as the lockout and the throttles do.

    Behind the proxy `%(h)s` would be the proxy's address on every line; it becomes
    `statehub.security.client_address` of the request's environ. `atoms` is the method gunicorn's
    `Logger.access` formats its line with; should a gunicorn release stop calling it, the log
    shows the socket peer again and nothing else changes.
    """

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        try:
            # Imported here: the master process reads this module before Django is set up.
            from statehub.security import client_address

            atoms["h"] = client_address(environ) or "-"
        except Exception:  # the access log must never fail a request, nor lose its line
            logging.getLogger(__name__).warning("Could not name the client for the access log.", exc_info=True)
        return atoms


logger_class = ClientAddressLogger


def on_starting(server: Any) -> None:
    """Before the first worker forks: drop metric files left by processes that no longer run."""
    clear_dead_process_files()


def post_fork(server: Any, worker: Any) -> None:
    """In each worker: tracing set up for this process (a no-op when the app was loaded before the fork,
    whose batch span processor restarts its thread in the child by itself, or when tracing is off)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statehub.settings")  # as statehub.wsgi does, a moment later
    from statehub.tracing import setup

    setup()


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its live gauges stop counting (its counters stay in the totals)."""
    mark_process_dead(worker.pid)
