"""Prometheus multiprocess files shared by gunicorn and Celery workers on one host.

With `PROMETHEUS_MULTIPROC_DIR` set, every process writes its metrics to files named after its
pid in that directory and `/metrics` sums them. The directory is shared by the web and the Celery
processes, so no process may empty it at start (it would delete a live neighbour's files); each
removes only the files of processes that no longer run. Kept free of Django imports: gunicorn's
master loads it before the application.
"""

import logging
import os
import re
from pathlib import Path

from prometheus_client import multiprocess

logger = logging.getLogger(__name__)

_PID_IN_NAME = re.compile(r"_(\d+)\.db$")


def metrics_directory() -> Path | None:
    """The shared directory, or None when metrics are per process."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(configured) if configured else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def clear_dead_process_files() -> list[Path]:
    """Delete the files of processes that are gone; return what was deleted."""
    directory = metrics_directory()
    if directory is None:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    removed = []
    for path in directory.glob("*.db"):
        match = _PID_IN_NAME.search(path.name)
        if match and not _running(int(match.group(1))):
            try:
                path.unlink()
            except FileNotFoundError:  # a neighbour cleared it first
                continue
            removed.append(path)
    if removed:
        logger.info("Removed %d metric file(s) of stopped processes from %s.", len(removed), directory)
    return removed


def mark_process_dead(pid: int) -> None:
    """Tell the multiprocess collector a process exited (its live gauges stop counting)."""
    if metrics_directory() is not None:
        multiprocess.mark_process_dead(pid)
