"""The low-level JetStream publisher: one long-lived NATS connection and event loop per process.

The loop runs in a daemon thread; callers in ordinary (sync) Django code hand it batches with
`asyncio.run_coroutine_threadsafe`. Every message carries `Nats-Msg-Id` = envelope id, so a
re-publish inside JetStream's duplicate window is dropped by the server. Publishes are pipelined:
a batch is written out at once and its PubAcks are awaited together.

Outcomes are classified, never raised. NATS being away — unreachable, a lost connection, no
PubAck in time, no responders, a missing stream, a JetStream error the server marks as its own
(5xx) — is "unavailable": not the message's fault, so it never counts against the row (same id
next time). An error of the message itself is "permanent" (a payload over the server's limit, a
subject no stream covers after ensuring the stream) or "retry" (any other JetStream refusal).

After a failed connect the connection backs off: publishes fail fast for `NATS_DOWN_BACKOFF_S`,
doubling on each further failure up to `NATS_DOWN_BACKOFF_MAX_S`, so a request that publishes
in-process after commit is not slowed by a dead server. The relay does not wait out that window:
each sweep probes the server once (`probe`) and drains only when NATS answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import functools
import itertools
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.errors
import nats.js.errors
from django.conf import settings

from events.envelope import encode_envelope
from events.headers import header_block, message_headers
from events.stream import Drift, StreamSettings, stream_drift, wanted_stream
from events.subjects import aggregate_of

logger = logging.getLogger(__name__)

# JetStream API error codes that retrying cannot fix.
STREAM_NAME_IN_USE = 10058
MESSAGE_EXCEEDS_MAXIMUM = 10054
PERMANENT_ERROR_CODES = frozenset({MESSAGE_EXCEEDS_MAXIMUM})


@dataclass(frozen=True)
class OutgoingMessage:
    """One message: subject, encoded envelope, id (`Nats-Msg-Id`), timestamp (`ce-time`), aggregate (`ce-subject`).

    The header section is encoded when the message is built, in the caller's thread, so the
    publisher loop, which every drain thread shares, only writes bytes.
    """

    subject: str
    payload: bytes
    msg_id: str
    timestamp: str = ""
    aggregate: str = ""
    header_block: bytes = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        block = header_block(
            subject=self.subject, event_id=self.msg_id, timestamp=self.timestamp, aggregate=self.aggregate
        )
        object.__setattr__(self, "header_block", block)

    @functools.cached_property
    def headers(self) -> dict[str, str]:
        """The same headers as a dict (what `header_block` encodes)."""
        return message_headers(
            subject=self.subject, event_id=self.msg_id, timestamp=self.timestamp, aggregate=self.aggregate
        )


@dataclass(frozen=True)
class PublishResult:
    """What happened to one publish; truthy when JetStream acknowledged it (a duplicate counts)."""

    ok: bool
    stream_seq: int | None = None
    # The creation time of the stream incarnation the sequence belongs to (a recreated stream restarts at 1).
    stream_created: dt.datetime | None = None
    duplicate: bool = False
    skipped: bool = False
    permanent: bool = False
    timed_out: bool = False
    unavailable: bool = False
    error: str = ""

    def __bool__(self) -> bool:
        return self.ok

    @property
    def outcome(self) -> str:
        """`published`, `skipped`, `unavailable` (NATS away), `retry` or `permanent` (the message's fault)."""
        if self.ok:
            return "published"
        if self.skipped:
            return "skipped"
        if self.unavailable:
            return "unavailable"
        return "permanent" if self.permanent else "retry"


SKIPPED = PublishResult(ok=False, skipped=True, error="NATS_URL is not set; event not published.")
# The nats-py client internals `_Connection._publish_one` writes through (nats-py 2.16 has them).
_RAW_PUBLISH_NEEDS = ("_send_command", "_flush_pending", "_flush_queue", "max_payload", "stats")
_SUBJECT_INVALID = re.compile(r"[ \t\r\n]")
# How long a connection trusts the stream's creation time it read before reading it again.
INCARNATION_TTL_S = 5.0
# Marker for "no responders": no stream listens on the subject (yet).
_NO_STREAM = PublishResult(ok=False, unavailable=True, error="No stream covers the subject.")


def _transient(error: str) -> PublishResult:
    """NATS is away or did not say: the message is not at fault and is published again as it is."""
    return PublishResult(ok=False, unavailable=True, error=error)


def _retry(error: str) -> PublishResult:
    """The server refused this message for a reason that may pass: counted against the row."""
    return PublishResult(ok=False, error=error)


def _permanent(error: str) -> PublishResult:
    return PublishResult(ok=False, permanent=True, error=error)


@dataclass(frozen=True)
class _Config:
    url: str
    wanted: StreamSettings
    publish_timeout: float
    connect_timeout: float
    down_backoff: float
    down_backoff_max: float

    @property
    def stream(self) -> str:
        return self.wanted.name


class _Unavailable(Exception):
    """NATS cannot be reached right now (connect failed, or still inside the back-off window)."""


class _Connection:
    """A NATS client plus one wildcard reply subscription that resolves many PubAcks in flight."""

    def __init__(self, url: str, stream: str, info_timeout: float = 1.0) -> None:
        self.url = url
        self.stream = stream
        self.info_timeout = info_timeout
        self.nc: Any = None
        self.prefix = ""
        self.pending: dict[str, asyncio.Future[PublishResult]] = {}
        self._tokens = itertools.count()
        self.raw_publish = False
        # The incarnation of the stream this connection's PubAcks are about (its creation time, None
        # when unknown), when it was last read, and the last new sequence acknowledged in it.
        self.stream_created: dt.datetime | None = None
        self._created_read_at = -math.inf
        self._created_tried_at = -math.inf
        self.last_seq = 0

    async def open(self, connect_timeout: float) -> None:
        # No automatic reconnect: while the server is away a publish must fail fast, not queue up.
        # The publisher opens a fresh connection on the next call instead.
        self.nc = await asyncio.wait_for(
            nats.connect(
                servers=nats_servers(self.url),
                name="state-hub",
                allow_reconnect=False,
                # One quick try per connect: nats-py loops over its server pool until this is exceeded.
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                connect_timeout=max(1, round(connect_timeout)),
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                closed_cb=self._on_disconnected,
            ),
            timeout=connect_timeout + 0.5,
        )
        self.prefix = self.nc.new_inbox() + "."
        self.raw_publish = all(hasattr(self.nc, name) for name in _RAW_PUBLISH_NEEDS)
        await self.nc.subscribe(self.prefix + "*", cb=self._on_reply)

    @property
    def usable(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def close(self) -> None:
        self._fail_pending("The NATS connection was closed.")
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.close(), timeout=2)
            except Exception:
                logger.debug("Error while closing the NATS connection", exc_info=True)

    async def _on_error(self, error: Exception) -> None:
        logger.warning("NATS connection error: %s", error)

    async def _on_disconnected(self) -> None:
        self._fail_pending("The NATS connection was lost before the PubAck.")

    def _fail_pending(self, reason: str) -> None:
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_result(_transient(reason))

    async def _on_reply(self, msg: Any) -> None:
        future = self.pending.pop(msg.subject[len(self.prefix) :], None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == "503":
            future.set_result(_NO_STREAM)
            return
        try:
            response = json.loads(msg.data)
        except ValueError:
            future.set_result(_retry("Unreadable PubAck."))
            return
        error = response.get("error")
        if error:
            code = error.get("err_code")
            text = f"JetStream error {code}: {error.get('description', '')}"
            if code in PERMANENT_ERROR_CODES:
                future.set_result(_permanent(text))
            elif int(error.get("code") or 0) >= 500:
                # The server's own trouble (no quorum, resources, JetStream unavailable): not the message's.
                future.set_result(_transient(text))
            else:
                future.set_result(_retry(text))
            return
        seq, duplicate = response.get("seq"), bool(response.get("duplicate"))
        created = await self._incarnation_of(int(seq or 0), duplicate=duplicate)
        future.set_result(PublishResult(ok=True, stream_seq=seq, duplicate=duplicate, stream_created=created))

    async def _incarnation_of(self, seq: int, *, duplicate: bool) -> dt.datetime | None:
        """The stream incarnation (creation time) a PubAck's sequence belongs to.

        PubAcks of one connection arrive in the order its messages were written, and sequences only
        grow within one stream: a new (not duplicate) sequence at or below the previous one means the
        stream was deleted and created again between the two, so its creation time is read anew
        (unknown, None, if the server does not say then). A creation time older than
        `INCARNATION_TTL_S` is read again too, for a stream recreated by someone else while this
        connection published nothing; so do the relay's probes. A failed read keeps the last known
        one and is not tried again for a second.
        """
        if duplicate:
            return self.stream_created
        went_back = seq <= self.last_seq
        self.last_seq = seq
        now = time.monotonic()
        if went_back:
            self.stream_created = None
            await self.refresh_stream_created()
        elif now - self._created_read_at > INCARNATION_TTL_S and now - self._created_tried_at > 1.0:
            await self.refresh_stream_created()
        return self.stream_created

    async def _publish_one(self, message: OutgoingMessage, reply: str) -> None:
        """`nc.publish(subject, payload, reply, headers)`, writing the message's pre-encoded header section.

        nats-py encodes a headers dict on every publish (nine headers here, more CPU than the rest of
        the publish). On a connected client this does what `Client.publish` and `_send_publish` of
        nats-py 2.16 do, with the same checks, bytes and flushing; otherwise, or on a client without
        those internals, it calls `publish` itself (which raises what it raises).
        """
        nc = self.nc
        if not (self.raw_publish and nc.is_connected and not nc.is_draining_pubs):
            await nc.publish(message.subject, message.payload, reply=reply, headers=message.headers)
            return
        if not message.subject or _SUBJECT_INVALID.search(message.subject) or _SUBJECT_INVALID.search(reply):
            raise nats.errors.BadSubjectError
        payload = message.payload
        if len(payload) > nc.max_payload:
            raise nats.errors.MaxPayloadError
        header = message.header_block
        command = (
            f"HPUB {message.subject} {reply} {len(header)} {len(header) + len(payload)}\r\n".encode()
            + header
            + payload
            + b"\r\n"
        )
        nc.stats["out_msgs"] += 1
        nc.stats["out_bytes"] += len(payload)
        await nc._send_command(command)
        if nc._flush_queue is not None and nc._flush_queue.empty():
            await nc._flush_pending()

    async def publish_all(self, messages: Sequence[OutgoingMessage], timeout: float) -> list[PublishResult]:
        """Write every message out, then await all PubAcks together (bounded by `timeout`)."""
        loop = asyncio.get_running_loop()
        results: list[PublishResult | None] = [None] * len(messages)
        waiting: list[tuple[int, str, asyncio.Future[PublishResult]]] = []
        for index, message in enumerate(messages):
            token = str(next(self._tokens))
            future: asyncio.Future[PublishResult] = loop.create_future()
            self.pending[token] = future
            try:
                await self._publish_one(message, self.prefix + token)
            except nats.errors.MaxPayloadError as exc:
                self.pending.pop(token, None)
                results[index] = _permanent(
                    f"Payload of {len(message.payload)} bytes is over the server's limit: {exc}"
                )
                continue
            except Exception as exc:
                self.pending.pop(token, None)
                results[index] = _transient(f"Publish failed: {exc!r}")
                continue
            waiting.append((index, token, future))
        if waiting:
            await asyncio.wait([future for _, _, future in waiting], timeout=timeout)
        for index, token, future in waiting:
            if future.done():
                results[index] = future.result()
            else:
                self.pending.pop(token, None)
                future.cancel()
                results[index] = PublishResult(
                    ok=False,
                    timed_out=True,
                    unavailable=True,
                    error=f"No PubAck within {timeout:g} s (outcome unknown; retried with the same id).",
                )
        return [result if result is not None else _transient("Not published.") for result in results]

    async def refresh_stream_created(self) -> None:
        """Read the stream's creation time (its incarnation); on failure keep what was known."""
        self._created_tried_at = time.monotonic()
        try:
            info = await self.nc.jetstream(timeout=self.info_timeout).stream_info(self.stream)
        except Exception as exc:
            logger.warning("Could not read the creation time of stream %s: %r", self.stream, exc)
            return
        self.learn_stream_created(info.created)

    def learn_stream_created(self, created: dt.datetime | None) -> None:
        """The stream's creation time as just read from the server."""
        self._created_read_at = time.monotonic()
        self.stream_created = created

    async def stream_missing(self, stream: str, timeout: float) -> bool:
        """True only when the server says the stream does not exist (any other answer: False)."""
        try:
            await self.nc.jetstream(timeout=timeout).stream_info(stream)
        except nats.js.errors.NotFoundError:
            return True
        except Exception:
            return False
        return False

    async def stream_covers(self, stream: str, subject: str, timeout: float) -> bool | None:
        """Whether the stream exists and one of its subject filters matches; None when the server did not say."""
        try:
            info = await self.nc.jetstream(timeout=timeout).stream_info(stream)
        except nats.js.errors.NotFoundError:
            return False
        except Exception:
            return None
        return any(subject_matches(subject_filter, subject) for subject_filter in info.config.subjects or [])

    async def ensure_stream(self, wanted: StreamSettings, timeout: float) -> None:
        """Create the stream as the settings describe it; one that already exists counts as success (left as it is).

        Either way the connection learns the stream's creation time, the incarnation its PubAcks name.
        """
        js = self.nc.jetstream(timeout=timeout)
        try:
            info = await js.add_stream(config=wanted.config())
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != STREAM_NAME_IN_USE:
                raise
            logger.info("Stream %s already exists (created concurrently or elsewhere).", wanted.name)
            await self.refresh_stream_created()
            return
        logger.info("Ensured JetStream stream %s (subjects %s).", wanted.name, ", ".join(wanted.subjects))
        self.learn_stream_created(info.created)

    async def stream_state(self, wanted: StreamSettings, timeout: float) -> tuple[str, list[Drift]]:
        """`ok`, `drifted` (with how) or `missing`: the live stream against the settings."""
        try:
            info = await self.nc.jetstream(timeout=timeout).stream_info(wanted.name)
        except nats.js.errors.NotFoundError:
            return "missing", []
        self.learn_stream_created(info.created)
        drift = stream_drift(wanted, info.config)
        return ("drifted" if drift else "ok"), drift


def nats_servers(url: str) -> list[str]:
    """The servers named by `NATS_URL`: one URL, or several of a cluster separated by commas."""
    return [server.strip() for server in url.split(",") if server.strip()]


def subject_matches(subject_filter: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, a final `>` is one or more tokens."""
    wanted, parts = subject_filter.split("."), subject.split(".")
    for position, part in enumerate(wanted):
        if part == ">":
            return len(parts) > position
        if position >= len(parts) or part not in ("*", parts[position]):
            return False
    return len(parts) == len(wanted)


class _Publisher:
    """Owns the background event loop and the connection; one per process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connection: _Connection | None = None
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

    def submit(self, messages: Sequence[OutgoingMessage], config: _Config) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(self._publish(messages, config), self.loop())

    def submit_probe(self, config: _Config) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(self._probe(config), self.loop())

    async def _probe(self, config: _Config) -> ProbeOutcome:
        """Connect (even inside the back-off window), ping, and read the stream against the settings.

        The reason is "" when NATS answers, else why not. Reading the stream also refreshes the
        incarnation the connection's PubAcks name, so a stream recreated while this process was idle
        is noticed by the next relay sweep.
        """
        try:
            connection = await self._connect(config, probe=True)
            await connection.nc.flush(timeout=config.connect_timeout)
        except _Unavailable as exc:
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

    async def _publish(self, messages: Sequence[OutgoingMessage], config: _Config) -> list[PublishResult]:
        try:
            connection = await self._connect(config)
        except _Unavailable as exc:
            return [_transient(str(exc))] * len(messages)
        results = await connection.publish_all(messages, config.publish_timeout)
        missing = [index for index, result in enumerate(results) if result is _NO_STREAM]
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
                results[index] = _transient(f"No stream covers the subject and creating {config.stream} failed: {exc}")
            return results
        again = await connection.publish_all([messages[index] for index in missing], config.publish_timeout)
        for index, result in zip(missing, again, strict=True):
            if result is not _NO_STREAM:
                results[index] = result
                continue
            subject = messages[index].subject
            # Permanent only when the stream provably does not take this subject (e.g. it was created
            # elsewhere with other subjects); a stream that exists but is briefly unavailable (restart,
            # leader election) answers "no responders" too, and that is worth retrying.
            if await connection.stream_covers(config.stream, subject, config.publish_timeout) is False:
                results[index] = _permanent(f"No stream covers {subject} even after ensuring {config.stream}.")
            else:
                results[index] = _transient(
                    f"JetStream did not answer for {subject} (stream {config.stream} unavailable)."
                )
        return results

    async def _connect(self, config: _Config, *, probe: bool = False) -> _Connection:
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if not probe and config.url == self._down_url and time.monotonic() < self._down_until:
                raise _Unavailable(self._down_reason)
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
            connection = _Connection(config.url, config.stream, config.connect_timeout)
            try:
                await connection.open(config.connect_timeout)
            except Exception as exc:
                self._mark_down(config, f"NATS at {config.url} is unreachable ({exc!r}); retried later.")
                await connection.close()
                raise _Unavailable(self._down_reason) from exc
            self._down_until, self._down_failures = 0.0, 0
            self._connection = connection
            try:
                await connection.ensure_stream(config.wanted, config.publish_timeout)
            except Exception as exc:
                # Publishing reports the real problem; the stream is ensured again when it is missing.
                logger.warning("Could not ensure stream %s on connect: %s", config.stream, exc)
            return connection

    def _mark_down(self, config: _Config, reason: str) -> None:
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


_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()


def _get_publisher() -> _Publisher:
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher.pid != os.getpid():
            _publisher = _Publisher()
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


def _config(timeout: float | None) -> _Config:
    return _Config(
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
            return [_transient("The publisher did not answer in time (outcome unknown).")] * self._size
        except Exception as exc:
            logger.exception("Publisher failure")
            return [_transient(f"Publisher failure: {exc!r}")] * self._size
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


@dataclass(frozen=True)
class ProbeOutcome:
    """What a probe found: why NATS did not answer ("" when it did), and the stream against the settings."""

    reason: str
    stream: str = "unknown"  # ok, drifted, missing or unknown
    drift: tuple[Drift, ...] = ()
    stream_created: dt.datetime | None = None  # the live stream's incarnation, when it was read


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
        return _transient(f"Publish failed: {exc!r}")
    if not result.ok:
        logger.warning("Event %s (%s) not published: %s", envelope.get("id"), subject, result.error)
    return result
