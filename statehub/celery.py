"""The Celery app; loads its configuration from the CELERY_* Django settings."""

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_process_shutdown

from statehub.multiprocess_metrics import clear_dead_process_files, mark_process_dead

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statehub.settings")

app = Celery("statehub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _reset_publisher_after_fork(**_: object) -> None:
    """Give each forked worker its own NATS connection and event loop."""
    from events.publisher import reset_publisher

    reset_publisher()


@worker_init.connect
def _clear_stale_metric_files(**_: object) -> None:
    """Drop metric files of processes that no longer run (the directory is shared with gunicorn)."""
    clear_dead_process_files()


@worker_process_shutdown.connect
def _mark_metrics_process_dead(pid: int | None = None, **_: object) -> None:
    """A pool process exited: its live gauges stop counting (its counters stay in the totals)."""
    mark_process_dead(pid or os.getpid())
