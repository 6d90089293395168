"""Counters and timings of event delivery (Prometheus); recording them never changes an outcome."""

import logging
from collections.abc import Iterable

from prometheus_client import Counter, Histogram

logger = logging.getLogger(__name__)

PUBLISH_ATTEMPTS = Counter(
    "statehub_events_publish_attempts",
    "Outbox events handed to JetStream (or skipped), by outcome.",
    ["outcome"],
)
PUBLISH_FAILURES = Counter(
    "statehub_events_publish_failures",
    "Failed publish attempts, by kind (unavailable: NATS away, not counted against the event; retry or permanent).",
    ["kind"],
)
PUBLISH_FALLBACKS = Counter(
    "statehub_events_publish_fallbacks",
    "Messages the publisher's raw write failed on and nats-py's public publish() sent instead.",
)
COMMIT_TO_ACK_SECONDS = Histogram(
    "statehub_events_commit_to_ack_seconds",
    "Time from recording an event to its PubAck.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
)


def count_outcome(outcome: str, amount: int = 1) -> None:
    """Add to the attempts counter; an error here is logged, never raised."""
    try:
        if amount:
            PUBLISH_ATTEMPTS.labels(outcome=outcome).inc(amount)
            if outcome in ("unavailable", "retry", "permanent"):
                PUBLISH_FAILURES.labels(kind=outcome).inc(amount)
    except Exception:
        logger.debug("Could not count publish outcome", exc_info=True)


def count_fallback() -> None:
    """Count one fallback from the raw write to the public publish; an error here is logged, never raised."""
    try:
        PUBLISH_FALLBACKS.inc()
    except Exception:
        logger.debug("Could not count a publish fallback", exc_info=True)


def observe_latencies(seconds: Iterable[float]) -> None:
    """Record commit→PubAck latencies; an error here is logged, never raised."""
    try:
        for value in seconds:
            COMMIT_TO_ACK_SECONDS.observe(max(value, 0.0))
    except Exception:
        logger.debug("Could not record publish latency", exc_info=True)
