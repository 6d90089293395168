"""The Celery app; loads its configuration from the CELERY_* Django settings."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init, worker_process_shutdown
from django.db import close_old_connections

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


@worker_process_init.connect
def _set_up_tracing(**_: object) -> None:
    """Trace tasks in each pool process when an exporter is configured (OTEL_*); nothing otherwise."""
    from statehub.tracing import setup

    setup()


@task_prerun.connect
@task_postrun.connect
def _keep_usable_database_connections(task: Any = None, **_: object) -> None:
    """As around a web request: drop a connection that broke or outlived CONN_MAX_AGE, keep the rest.

    With `CELERY_DB_REUSE_MAX` set, Celery no longer closes the connection around every task;
    this keeps a connection the database restarted under from failing the next task (the next
    use health-checks it, `CONN_HEALTH_CHECKS`). A task run in-process (no broker) is part of a
    request or command whose connection is not the task's to close.
    """
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


@worker_init.connect
def _clear_stale_metric_files(**_: object) -> None:
    """Drop metric files of processes that no longer run (the directory is shared with gunicorn)."""
    clear_dead_process_files()


@worker_process_shutdown.connect
def _mark_metrics_process_dead(pid: int | None = None, **_: object) -> None:
    """A pool process exited: its live gauges stop counting (its counters stay in the totals)."""
    mark_process_dead(pid or os.getpid())
