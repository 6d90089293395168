"""The Prometheus endpoint: request metrics (django-prometheus), publish counters and outbox gauges."""

import os

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

import events.metrics  # noqa: F401 - registers the publish counters (at zero) before the first publish
from events.collectors import OutboxCollector

_outbox_registry = CollectorRegistry(auto_describe=False)
_outbox_registry.register(OutboxCollector())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve every metric in the Prometheus text format (aggregated across processes when configured)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # gunicorn workers and Celery workers on one host write to this directory; read them all.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(_outbox_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
