"""gunicorn settings for the hub's web process (`gunicorn -c python:statehub.gunicorn statehub.wsgi`).

The command line (docs/deploy.md) carries the flags an operator tunes; this module only holds the
hooks that keep Prometheus' multiprocess files true to the processes that are alive.
"""

from typing import Any

from statehub.multiprocess_metrics import clear_dead_process_files, mark_process_dead


def on_starting(server: Any) -> None:
    """Before the first worker forks: drop metric files left by processes that no longer run."""
    clear_dead_process_files()


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its live gauges stop counting (its counters stay in the totals)."""
    mark_process_dead(worker.pid)
