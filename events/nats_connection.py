"""One NATS connection of the publisher: pipelined publishes whose PubAcks one reply subscription resolves.

Every message carries `Nats-Msg-Id` = envelope id, so a re-publish inside JetStream's duplicate
window is dropped by the server. A batch is written out at once and its PubAcks awaited together;
each acknowledged result names the stream incarnation its sequence belongs to. Messages are
written with their pre-encoded header section through nats-py's internals only on the nats-py
versions a test has proved byte-identical (`RAW_PUBLISH_VERSIONS`); anything unexpected there
falls back to nats-py's public `publish` for that message, logged once and counted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import importlib.metadata
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors

from events import metrics
from events.messages import (
    NO_STREAM,
    OutgoingMessage,
    PublishResult,
    permanent,
    retry,
    transient,
)
from events.stream import Drift, StreamSettings, stream_drift

logger = logging.getLogger(__name__)

# JetStream API error codes that retrying cannot fix.
STREAM_NAME_IN_USE = 10058
MESSAGE_EXCEEDS_MAXIMUM = 10054
PERMANENT_ERROR_CODES = frozenset({MESSAGE_EXCEEDS_MAXIMUM})
# The nats-py client internals `Connection._publish_one` writes through, and the nats-py versions
# on which tests/events/test_publisher.py proved it writes exactly what `Client.publish` writes.
RAW_PUBLISH_NEEDS = ("_send_command", "_flush_pending", "_flush_queue", "max_payload", "stats")
RAW_PUBLISH_VERSIONS = frozenset({"2.16.0"})
SUBJECT_INVALID = re.compile(r"[ \t\r\n]")
# How long a connection trusts the stream's creation time it read before reading it again.
INCARNATION_TTL_S = 5.0


class Connection:
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
        self.raw_publish = raw_publish_proved() and all(hasattr(self.nc, name) for name in RAW_PUBLISH_NEEDS)
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
                future.set_result(transient(reason))

    async def _on_reply(self, msg: Any) -> None:
        future = self.pending.pop(msg.subject[len(self.prefix) :], None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == "503":
            future.set_result(NO_STREAM)
            return
        try:
            response = json.loads(msg.data)
        except ValueError:
            future.set_result(retry("Unreadable PubAck."))
            return
        error = response.get("error")
        if error:
            code = error.get("err_code")
            text = f"JetStream error {code}: {error.get('description', '')}"
            if code in PERMANENT_ERROR_CODES:
                future.set_result(permanent(text))
            elif int(error.get("code") or 0) >= 500:
                # The server's own trouble (no quorum, resources, JetStream unavailable): not the message's.
                future.set_result(transient(text))
            else:
                future.set_result(retry(text))
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
        the publish). On a connected client of a proved nats-py version this does what
        `Client.publish` and `_send_publish` of nats-py 2.16 do, with the same checks, bytes and
        flushing. Otherwise it calls `publish` itself, which raises what it raises. An exception
        the raw path should not raise (an internal that changed its behaviour) is not taken for NATS
        being away: the message goes out through `publish`, the error is logged (once per process)
        and counted (`statehub_events_publish_fallbacks_total`), and this connection stops using
        the raw path.
        """
        nc = self.nc
        if not (self.raw_publish and nc.is_connected and not nc.is_draining_pubs):
            await nc.publish(message.subject, message.payload, reply=reply, headers=message.headers)
            return
        if not message.subject or SUBJECT_INVALID.search(message.subject) or SUBJECT_INVALID.search(reply):
            raise nats.errors.BadSubjectError
        if len(message.payload) > nc.max_payload:
            raise nats.errors.MaxPayloadError
        try:
            await self._write_raw(message, reply)
        except nats.errors.Error:
            raise  # what `publish` raises too: the connection's trouble, not the raw path's
        except Exception as exc:
            self.raw_publish = False
            raw_path_failed(exc)
            await nc.publish(message.subject, message.payload, reply=reply, headers=message.headers)

    async def _write_raw(self, message: OutgoingMessage, reply: str) -> None:
        nc, payload, header = self.nc, message.payload, message.header_block
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
                results[index] = permanent(f"Payload of {len(message.payload)} bytes is over the server's limit: {exc}")
                continue
            except Exception as exc:
                self.pending.pop(token, None)
                results[index] = transient(f"Publish failed: {exc!r}")
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
        return [result if result is not None else transient("Not published.") for result in results]

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


def nats_py_version() -> str:
    try:
        return importlib.metadata.version("nats-py")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def raw_publish_proved() -> bool:
    """Whether this nats-py is one the raw path was proved on; said once per process when it is not."""
    version = nats_py_version()
    if version in RAW_PUBLISH_VERSIONS:
        return True
    logger.warning(
        "nats-py %s is not one the publisher's raw write was proved on (%s): publishing through "
        "nats-py's public publish(), which encodes the headers of every message (slower, same bytes). "
        "Prove the new version with tests/events/test_publisher.py and add it to RAW_PUBLISH_VERSIONS.",
        version,
        ", ".join(sorted(RAW_PUBLISH_VERSIONS)),
    )
    return False


_raw_failure_logged = False


def raw_path_failed(exc: Exception) -> None:
    """The raw write raised what it never should: count it, and log it with its traceback once per process."""
    global _raw_failure_logged
    metrics.count_fallback()
    if not _raw_failure_logged:
        _raw_failure_logged = True
        logger.error(
            "The publisher's raw write through nats-py %s internals failed (%r): falling back to the public "
            "publish() for this connection. Does this nats-py still match RAW_PUBLISH_VERSIONS?",
            nats_py_version(),
            exc,
            exc_info=exc,
        )


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
