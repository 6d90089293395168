"""The Prometheus endpoint: request metrics (django-prometheus), publish counters and outbox gauges."""

import os

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

import events.metrics  # noqa: F401 - registers the publish counters (at zero) before the first publish
from events.collectors import OutboxCollector

_outbox_registry = CollectorRegistry(auto_describe=False)
_outbox_registry.register(OutboxCollector())


class MetricsView(APIView):
    """Every metric in the Prometheus text format (aggregated across processes when configured).

    Authenticated like the rest of the API: Prometheus sends `Authorization: Token <key>`
    (`authorization: {type: Token, credentials: ...}` in its scrape config).
    """

    permission_classes = [IsAuthenticated]
    throttle_classes: list[type] = []
    schema = None

    def get(self, request: Request) -> HttpResponse:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # gunicorn workers and Celery workers on one host write to this directory; read them all.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = REGISTRY
        body = generate_latest(registry) + generate_latest(_outbox_registry)
        return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
