"""The publisher's event loop: one daemon thread and one NATS connection per process, with back-off.

Callers in ordinary (sync) Django code hand it batches with `asyncio.run_coroutine_threadsafe`.
After a failed connect the connection backs off: publishes fail fast for `NATS_DOWN_BACKOFF_S`,
doubling on each further failure up to `NATS_DOWN_BACKOFF_MAX_S`, so a request that publishes
in-process after commit is not slowed by a dead server. The relay does not wait out that window:
each sweep probes the server once and drains only when NATS answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from events.messages import NO_STREAM, OutgoingMessage, ProbeOutcome, PublishResult, permanent, transient
from events.nats_connection import Connection
from events.stream import StreamSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config:
    url: str
    wanted: StreamSettings
    publish_timeout: float
    connect_timeout: float
    down_backoff: float
    down_backoff_max: float

    @property
    def stream(self) -> str:
        return self.wanted.name


class Unavailable(Exception):
    """NATS cannot be reached right now (connect failed, or still inside the back-off window)."""


class PublisherLoop:
    """Owns the background event loop and the connection; one per process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connection: Connection | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._down_url = ""
        self._down_until = 0.0
        self._down_reason = ""
        self._down_failures = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="statehub-nats-publisher", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def submit(self, messages: Sequence[OutgoingMessage], config: Config) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(self._publish(messages, config), self.loop())

    def submit_probe(self, config: Config) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(self._probe(config), self.loop())

    async def _probe(self, config: Config) -> ProbeOutcome:
        """Connect (even inside the back-off window), ping, and read the stream against the settings.

        The reason is "" when NATS answers, else why not. Reading the stream also refreshes the
        incarnation the connection's PubAcks name, so a stream recreated while this process was idle
        is noticed by the next relay sweep.
        """
        try:
            connection = await self._connect(config, probe=True)
            await connection.nc.flush(timeout=config.connect_timeout)
        except Unavailable as exc:
            return ProbeOutcome(str(exc))
        except Exception as exc:
            self._mark_down(config, f"NATS at {config.url} did not answer a ping ({exc!r}); retried later.")
            return ProbeOutcome(self._down_reason)
        try:
            stream, drift = await connection.stream_state(config.wanted, config.connect_timeout)
        except Exception as exc:
            logger.info("Could not read stream %s: %r", config.stream, exc)
            stream, drift = "unknown", []
        # It answers: end the back-off, so publishes from this process go out again at once.
        self._down_until, self._down_failures = 0.0, 0
        return ProbeOutcome("", stream, tuple(drift), connection.stream_created)

    async def _publish(self, messages: Sequence[OutgoingMessage], config: Config) -> list[PublishResult]:
        try:
            connection = await self._connect(config)
        except Unavailable as exc:
            return [transient(str(exc))] * len(messages)
        results = await connection.publish_all(messages, config.publish_timeout)
        missing = [index for index, result in enumerate(results) if result is NO_STREAM]
        timed_out = [index for index, result in enumerate(results) if result.timed_out]
        if timed_out and await connection.stream_missing(config.stream, config.publish_timeout):
            # A plain subscriber on the subject (e.g. `tail_events`) answers instead of the missing
            # stream, so there is no "no responders" reply, only silence.
            missing = sorted(missing + timed_out)
        elif timed_out and len(timed_out) == len(results):
            # A server that accepts connections but does not acknowledge: fail fast for a while, so
            # in-process publishing after commit does not cost every request the publish timeout.
            self._mark_down(config, f"JetStream at {config.url} did not acknowledge in time; retried later.")
        if not missing:
            return results
        try:
            await connection.ensure_stream(config.wanted, config.publish_timeout)
        except Exception as exc:
            for index in missing:
                results[index] = transient(f"No stream covers the subject and creating {config.stream} failed: {exc}")
            return results
        again = await connection.publish_all([messages[index] for index in missing], config.publish_timeout)
        for index, result in zip(missing, again, strict=True):
            if result is not NO_STREAM:
                results[index] = result
                continue
            subject = messages[index].subject
            # Permanent only when the stream provably does not take this subject (e.g. it was created
            # elsewhere with other subjects); a stream that exists but is briefly unavailable (restart,
            # leader election) answers "no responders" too, and that is worth retrying.
            if await connection.stream_covers(config.stream, subject, config.publish_timeout) is False:
                results[index] = permanent(f"No stream covers {subject} even after ensuring {config.stream}.")
            else:
                results[index] = transient(
                    f"JetStream did not answer for {subject} (stream {config.stream} unavailable)."
                )
        return results

    async def _connect(self, config: Config, *, probe: bool = False) -> Connection:
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if not probe and config.url == self._down_url and time.monotonic() < self._down_until:
                raise Unavailable(self._down_reason)
            connection = self._connection
            if (
                connection is not None
                and (connection.url, connection.stream) == (config.url, config.stream)
                and connection.usable
            ):
                return connection
            if connection is not None:
                self._connection = None
                await connection.close()
            connection = Connection(config.url, config.stream, config.connect_timeout)
            try:
                await connection.open(config.connect_timeout)
            except Exception as exc:
                self._mark_down(config, f"NATS at {config.url} is unreachable ({exc!r}); retried later.")
                await connection.close()
                raise Unavailable(self._down_reason) from exc
            self._down_until, self._down_failures = 0.0, 0
            self._connection = connection
            try:
                await connection.ensure_stream(config.wanted, config.publish_timeout)
            except Exception as exc:
                # Publishing reports the real problem; the stream is ensured again when it is missing.
                logger.warning("Could not ensure stream %s on connect: %s", config.stream, exc)
            return connection

    def _mark_down(self, config: Config, reason: str) -> None:
        """Fail fast for a while: the window doubles with each failure in a row, up to the maximum."""
        self._down_failures = self._down_failures + 1 if config.url == self._down_url else 1
        window = min(config.down_backoff_max, config.down_backoff * 2 ** (self._down_failures - 1))
        self._down_url, self._down_until, self._down_reason = config.url, time.monotonic() + window, reason
        logger.warning("%s (publishes fail fast for %.1f s)", reason, window)

    def shutdown(self) -> None:
        """Close the connection and stop the loop thread (same process only)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        connection = self._connection
        if connection is not None:
            try:
                asyncio.run_coroutine_threadsafe(connection.close(), loop).result(timeout=3)
            except Exception:
                logger.debug("Error while closing the publisher connection", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=3)
