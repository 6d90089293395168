"""Prometheus gauges of the outbox, read from the database when /metrics is scraped."""

from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from events.models import OutboxEvent


class OutboxCollector(Collector):
    """Pending and failed counts and the age of the oldest pending event (the numbers to alert on)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            summary = OutboxEvent.objects.filter(
                status__in=[OutboxEvent.Status.PENDING, OutboxEvent.Status.FAILED]
            ).aggregate(
                pending=Count("id", filter=Q(status=OutboxEvent.Status.PENDING)),
                failed=Count("id", filter=Q(status=OutboxEvent.Status.FAILED)),
                oldest_pending=Min("created_at", filter=Q(status=OutboxEvent.Status.PENDING)),
            )
        except DatabaseError:
            # An unreachable database is reported by /health; a scrape must still answer.
            return
        by_status = GaugeMetricFamily("statehub_outbox_events", "Outbox events by status.", labels=["status"])
        by_status.add_metric(["pending"], summary["pending"])
        by_status.add_metric(["failed"], summary["failed"])
        yield by_status
        oldest = summary["oldest_pending"]
        age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "statehub_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox event (0 when none is pending).",
            value=age,
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Described without values so registering the collector does not query the database.
        yield GaugeMetricFamily("statehub_outbox_events", "Outbox events by status.", labels=["status"])
        yield GaugeMetricFamily("statehub_outbox_oldest_pending_age_seconds", "Age of the oldest pending event.")
