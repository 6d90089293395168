"""The Celery app; loads its configuration from the CELERY_* Django settings."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statehub.settings")

app = Celery("statehub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _reset_publisher_after_fork(**_: object) -> None:
    """Give each forked worker its own NATS connection and event loop."""
    from events.publisher import reset_publisher

    reset_publisher()
