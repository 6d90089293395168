"""The JetStream publisher's public surface: hand it messages, probe NATS, publish one event.

One long-lived NATS connection and event loop per process (`events.publisher_loop`), one
connection's pipelined publishes (`events.nats_connection`), and what goes in and comes out
(`events.messages`). Nothing here raises for NATS' sake: outcomes are results.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from events.envelope import encode_envelope
from events.messages import SKIPPED, OutgoingMessage, ProbeOutcome, PublishResult, transient
from events.nats_connection import nats_servers, subject_matches
from events.publisher_loop import Config, PublisherLoop
from events.stream import wanted_stream
from events.subjects import aggregate_of

__all__ = [
    "SKIPPED",
    "OutgoingMessage",
    "ProbeOutcome",
    "PublishResult",
    "message_for",
    "nats_servers",
    "probe",
    "probe_outcome",
    "publish_event",
    "publish_messages",
    "reset_publisher",
    "start_probe",
    "subject_matches",
    "submit_messages",
]

logger = logging.getLogger(__name__)

_publisher: PublisherLoop | None = None
_publisher_lock = threading.Lock()


def _get_publisher() -> PublisherLoop:
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher.pid != os.getpid():
            _publisher = PublisherLoop()
        return _publisher


def reset_publisher() -> None:
    """Forget this process's connection and loop; called in each forked worker and by tests.

    After a fork the loop thread does not exist in the child, so the inherited object is only
    dropped; in the same process the connection is closed and the thread stopped.
    """
    global _publisher
    with _publisher_lock:
        old, _publisher = _publisher, None
    if old is not None and old.pid == os.getpid():
        old.shutdown()


def _config(timeout: float | None) -> Config:
    return Config(
        url=settings.NATS_URL,
        wanted=wanted_stream(),
        publish_timeout=timeout if timeout is not None else settings.NATS_PUBLISH_TIMEOUT_S,
        connect_timeout=settings.NATS_CONNECT_TIMEOUT_S,
        down_backoff=settings.NATS_DOWN_BACKOFF_S,
        down_backoff_max=max(settings.NATS_DOWN_BACKOFF_S, settings.NATS_DOWN_BACKOFF_MAX_S),
    )


class PendingPublish:
    """A batch handed to the publisher loop; `results()` waits for it and never raises."""

    def __init__(self, future: concurrent.futures.Future[Any] | None, size: int, wait_limit: float) -> None:
        self._future = future
        self._size = size
        self._wait_limit = wait_limit

    def results(self) -> list[PublishResult]:
        if self._future is None:
            return [SKIPPED] * self._size
        try:
            results: list[PublishResult] = self._future.result(timeout=self._wait_limit)
        except concurrent.futures.TimeoutError:
            self._future.cancel()
            return [transient("The publisher did not answer in time (outcome unknown).")] * self._size
        except Exception as exc:
            logger.exception("Publisher failure")
            return [transient(f"Publisher failure: {exc!r}")] * self._size
        return results


def submit_messages(messages: Sequence[OutgoingMessage], *, timeout: float | None = None) -> PendingPublish:
    """Start publishing a batch pipelined on the process's connection; collect with `.results()`."""
    if not settings.NATS_URL:
        return PendingPublish(None, len(messages), 0)
    config = _config(timeout)
    # Connect, publish, maybe create the stream and publish again: bound the whole round.
    wait_limit = config.connect_timeout + 3 * config.publish_timeout + 2
    try:
        future = _get_publisher().submit(messages, config)
    except Exception as exc:
        logger.exception("Could not hand events to the publisher")
        failed: concurrent.futures.Future[Any] = concurrent.futures.Future()
        failed.set_exception(exc)
        return PendingPublish(failed, len(messages), 0)
    return PendingPublish(future, len(messages), wait_limit)


class PendingProbe:
    """A probe running on the publisher loop; `result()` waits for it and never raises."""

    def __init__(self, future: concurrent.futures.Future[Any] | None, url: str, wait_limit: float) -> None:
        self._future = future
        self._url = url
        self._wait_limit = wait_limit

    def outcome(self) -> ProbeOutcome:
        """The probe's outcome (NATS_URL unset: an empty reason and an `unknown` stream)."""
        if self._future is None:
            return ProbeOutcome("")
        try:
            outcome: ProbeOutcome = self._future.result(timeout=self._wait_limit)
        except Exception as exc:
            self._future.cancel()
            return ProbeOutcome(f"Could not probe NATS at {self._url}: {exc!r}")
        return outcome

    def result(self) -> str:
        """Why NATS did not answer, or "" when it did."""
        return self.outcome().reason


def start_probe() -> PendingProbe:
    """Start `probe()` on the process's connection without waiting (e.g. beside a database check)."""
    if not settings.NATS_URL:
        return PendingProbe(None, "", 0)
    config = _config(None)
    try:
        future = _get_publisher().submit_probe(config)
    except Exception as exc:
        failed: concurrent.futures.Future[Any] = concurrent.futures.Future()
        failed.set_exception(exc)
        return PendingProbe(failed, config.url, 0)
    return PendingProbe(future, config.url, 2 * config.connect_timeout + 1)


def probe_outcome() -> ProbeOutcome:
    """`probe()` with what it found of the stream (its settings' drift and its creation time)."""
    return start_probe().outcome()


def probe() -> str:
    """Try NATS now, even while publishes back off; "" when it answers (or NATS_URL is unset), else the reason.

    Uses the process's long-lived connection (opening it if needed) and a ping, each bounded by
    `NATS_CONNECT_TIMEOUT_S`. The relay calls this once per sweep, so an outage of any length ends
    with the first sweep after NATS returns, and a sweep during the outage touches no row.
    """
    return probe_outcome().reason


def publish_messages(messages: Sequence[OutgoingMessage], *, timeout: float | None = None) -> list[PublishResult]:
    """Publish a batch pipelined and wait for every outcome (never raises)."""
    return submit_messages(messages, timeout=timeout).results()


def message_for(envelope: dict[str, Any], *, subject: str | None = None) -> OutgoingMessage:
    """The wire message of an envelope: its type is the subject, its id `Nats-Msg-Id`, its aggregate `ce-subject`."""
    subject = subject or envelope["type"]
    attributes = envelope.get("attributes")
    return OutgoingMessage(
        subject=subject,
        payload=encode_envelope(envelope),
        msg_id=str(envelope["id"]),
        timestamp=str(envelope.get("timestamp") or ""),
        aggregate=aggregate_of(subject, attributes) if isinstance(attributes, dict) else "",
    )


def publish_event(subject: str, envelope: dict[str, Any], *, timeout: float | None = None) -> PublishResult:
    """Publish one envelope to JetStream and wait for its PubAck; failures are logged and returned, never raised.

    With `NATS_URL` unset this is a logged no-op (the result says `skipped`).
    """
    if not settings.NATS_URL:
        logger.info("NATS_URL is not set; event %s (%s) not published.", envelope.get("id"), subject)
        return SKIPPED
    try:
        [result] = publish_messages([message_for(envelope, subject=subject)], timeout=timeout)
    except Exception as exc:
        logger.exception("Publishing event %s failed", envelope.get("id"))
        return transient(f"Publish failed: {exc!r}")
    if not result.ok:
        logger.warning("Event %s (%s) not published: %s", envelope.get("id"), subject, result.error)
    return result
