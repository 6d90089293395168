"""A durable JetStream pull consumer of the State Hub's events that loses none and hands none over twice.

Events arrive at least once, from two sources: the durable, and the hub's replay over HTTP when
the durable was lost. The consumer makes that once at the handler: it validates each envelope
against its bundled schema, skips an id it already handled, calls the handler, and only then, in
one SQLite transaction, records the id and (for the durable's messages) the position reached; the
ack comes last. A crash
before the commit hands the event over again; a crash after it only repeats the ack.

One message is in flight at a time (`MAX_ACK_PENDING`), so events reach the handler in stream
order, which keeps every aggregate's events in order even across a failing handler, and makes the
stored position a true watermark: every event at or before it is dealt with.

Start-up (`_recover`), in the order that survives a crash at any step:
1. A "replay owed" marker left by an interrupted start-up is paid first: replay, then clear it.
2. If the durable exists, consume. If it is missing and there is no position, this is a first start:
   create it from the start of the stream. Otherwise it was deleted or expired, or the stream was
   recreated. Then: commit the marker "replay owed after <position>"; create the durable at the
   position's next sequence (same stream incarnation) or at the start of the new stream; replay
   from the hub after the position (`?after=`, or by time for a former incarnation); clear the
   marker. A crash after the marker but before the replay finishes is caught by step 1.
Whatever the replay and the new durable both deliver is deduplicated by id. Both sources are in
publish order, and the hub publishes an aggregate's next event only after the previous one is
published, so each aggregate's events stay in order.
"""

import asyncio
import contextlib
import datetime as dt
import enum
import itertools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from reference_consumer.hub import HubReplay, HubUnavailable, StreamRecreated
from reference_consumer.schemas import BUNDLED_SCHEMAS, SchemaBook
from reference_consumer.state import Position, State, rfc3339, same_incarnation
from reference_consumer.tracing import processing_span

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], dict[str, str]], None]
"""`handle(envelope, headers)`: do the work; raise to have the event delivered again later."""

DEFAULT_STREAM = "ACTIVITY_EVENTS"
DEFAULT_DURABLE = "reference-consumer"
# The hub's subjects; the stream (`org.>`) may carry other producers' events too.
SUBJECTS = "org.statehub.>"

# Recommended consumer settings.
# JetStream redelivers a message not acked within this time: longer than the slowest handler run.
ACK_WAIT_S = 30.0
# Deliveries of one message before JetStream stops redelivering it. With `retry_delay` that is about
# four minutes of retrying, enough to ride out a restart of whatever the handler writes to. After the
# last failure the consumer records the event as dead (`set_aside` table, and the log) and moves on;
# an operator fixes the cause and replays it from the hub (`GET /events/<id>/`).
MAX_DELIVER = 10
# One unacknowledged message at a time: events reach the handler in stream order, a failing one holds
# back those behind it until it succeeds or is dead, and the stored position is a watermark. Raising
# it buys throughput at the price of both: only for handlers indifferent to order.
MAX_ACK_PENDING = 1
# A failed message comes back after 1, 2, 4 … seconds, at most this long (`nak` with a delay).
RETRY_DELAY_MAX_S = 60.0
# How long one pull waits for a message; also how often an idle consumer checks that its durable exists.
FETCH_WAIT_S = 1.0
# How many handled ids the dedupe store keeps: far more than a replay can overlap with the durable.
DEDUPE_WINDOW = 100_000
# Test hook: `REFERENCE_CONSUMER_CRASH_AT=after_marker|after_durable|mid_replay` kills the process
# (`os._exit(137)`, no clean-up, as SIGKILL would) at that step of a recovery. Never set it in production.
CRASH_AT_ENV = "REFERENCE_CONSUMER_CRASH_AT"


@dataclass(frozen=True)
class Config:
    """Where the consumer reads from, where it keeps its state, and the schemas it accepts."""

    nats_url: str
    hub_url: str
    token: str
    state_path: Path
    stream: str = DEFAULT_STREAM
    durable: str = DEFAULT_DURABLE
    schemas_dir: Path = BUNDLED_SCHEMAS
    dedupe_window: int = DEDUPE_WINDOW
    # Applies to a durable this consumer creates; an existing durable keeps the one it was created with.
    max_deliver: int = MAX_DELIVER


class Outcome(enum.Enum):
    """What became of one event offered to the handler."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    POISON = "poison"
    FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    """One event offered to the handler, from the durable or from the replay."""

    subject: str
    envelope: Any
    position: Position
    headers: dict[str, str] = field(default_factory=dict)
    # Only the durable's deliveries move the stored position (see `State.position`).
    replayed: bool = False

    @property
    def event_id(self) -> str | None:
        return str(self.envelope["id"]) if isinstance(self.envelope, dict) and "id" in self.envelope else None


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt`: 1, 2, 4 … up to `RETRY_DELAY_MAX_S`."""
    return min(2.0 ** (attempt - 1), RETRY_DELAY_MAX_S)


def crash_point(step: str) -> None:
    """Die here when the test hook `REFERENCE_CONSUMER_CRASH_AT` names this step."""
    if os.environ.get(CRASH_AT_ENV) == step:
        logger.warning("Crashing at %s (%s is set).", step, CRASH_AT_ENV)
        os._exit(137)


def event_time(envelope: Any, fallback: dt.datetime) -> str:
    """The envelope's timestamp, or `fallback` for a body that has none worth the name."""
    try:
        return rfc3339(dt.datetime.fromisoformat(envelope["timestamp"]))
    except (TypeError, KeyError, ValueError):
        return rfc3339(fallback)


def parse_body(data: bytes) -> Any:
    """The message body as JSON, or `None` when it is not JSON (a poison message)."""
    try:
        return json.loads(data)
    except ValueError:
        return None


def decode_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """The message headers, CloudEvents values percent-decoded (the NATS binding encodes them)."""
    return {key: unquote(value) if key.startswith("ce-") else value for key, value in (headers or {}).items()}


def replayed_delivery(item: dict[str, Any], stream_created: str) -> Delivery:
    """A replay result as a delivery; its headers are the ones the result implies (`ce-subject` = its `aggregate`)."""
    envelope = item.get("envelope")
    published_at = dt.datetime.fromisoformat(item.get("published_at") or rfc3339(dt.datetime.now(dt.UTC)))
    headers = {}
    if isinstance(envelope, dict):
        headers = {"ce-id": str(envelope.get("id")), "ce-type": str(envelope.get("type"))}
        headers["ce-time"] = str(envelope.get("timestamp"))
    if item.get("aggregate"):
        headers["ce-subject"] = str(item["aggregate"])
    return Delivery(
        subject=str(item.get("type") or headers.get("ce-type")),
        envelope=envelope,
        position=Position(stream_created, int(item["stream_seq"]), event_time(envelope, published_at)),
        headers=headers,
        replayed=True,
    )


class Consumer:
    """Recovers (see the module docstring), then hands each event to `handle` once, until stopped."""

    def __init__(self, config: Config, handle: Handler) -> None:
        self.config = config
        self.handle = handle
        self.schemas = SchemaBook(config.schemas_dir)
        self.hub = HubReplay(config.hub_url, config.token)
        self.state = State(config.state_path, dedupe_window=config.dedupe_window)
        self.stop = asyncio.Event()
        self.stream_created = ""
        self.js: JetStreamContext  # connected by run()
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def run(self) -> None:
        """Recover, then consume until `stop` is set; the event in hand is finished first."""
        nc = await nats.connect(
            servers=self.config.nats_url.split(","), max_reconnect_attempts=-1, error_cb=self._on_nats_error
        )
        self.js = nc.jetstream()
        try:
            advisory = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{self.config.stream}.{self.config.durable}"
            await nc.subscribe(advisory, cb=self._on_max_deliveries)
            if await self._recover():
                await self._consume()
        finally:
            await nc.close()
            self.state.close()

    async def _recover(self) -> bool:
        """Pay a replay owed, ensure the durable (replaying if it was lost) and bind to it; False if stopped."""
        owed = self.state.replay_owed()
        if owed is not None:
            if not await self._replay(owed):
                return False
            self.state.clear_replay_owed()
        created = await self._live_stream_created()
        if created is None:
            return False
        self.stream_created = created
        if not await self._durable_exists() and not await self._create_durable(created):
            return False
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        self._subscription = await self.js.pull_subscribe_bind(durable=self.config.durable, stream=self.config.stream)
        return True

    async def _create_durable(self, created: str) -> bool:
        """Create the missing durable; after a lost one, owe and run the replay that covers the gap."""
        position = self.state.position()
        if position is None:
            logger.info("First start: durable %s reads the stream from its start.", self.config.durable)
            await self._add_durable(DeliverPolicy.ALL)
            return True
        self.state.owe_replay(position)
        crash_point("after_marker")
        until = await self._add_durable_after(position, created)
        if until is None:
            return False
        crash_point("after_durable")
        if not await self._replay(position, until_seq=until):
            return False
        self.state.clear_replay_owed()
        return True

    async def _add_durable_after(self, position: Position, created: str) -> int | None:
        """Create the durable where the stream still holds what follows `position`; the first sequence it delivers.

        Same stream: from `position` + 1, or from the stream's first message if older ones are gone,
        so the hub's replay covers only what the stream no longer holds. A recreated stream: from its
        start (and the former one is replayed whole). If the stream is recreated while this runs, the
        durable is made again on the new one. `None` if stopped first.
        """
        while True:
            info = await self.js.stream_info(self.config.stream)
            live = rfc3339(info.created) if info.created is not None else created
            if same_incarnation(position.stream_created, live):
                start = max(position.stream_seq + 1, int(info.state.first_seq or 1))
                logger.warning("Durable %s is missing: recreating it from sequence %d.", self.config.durable, start)
                await self._add_durable(DeliverPolicy.BY_START_SEQUENCE, start_seq=start)
                until: int | None = start
            else:
                logger.warning("Stream %s was recreated: durable reads the new one from its start.", self.config.stream)
                await self._add_durable(DeliverPolicy.ALL)
                until = None  # the former stream is gone: replay all of it after the position
            again = await self.js.stream_info(self.config.stream)
            if again.created == info.created:
                self.stream_created = live
                return until if until is not None else 0
            logger.warning("Stream %s was recreated while its durable was made: making it again.", self.config.stream)
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self.js.delete_consumer(self.config.stream, self.config.durable)
            if self.stop.is_set():
                return None

    async def _add_durable(self, policy: DeliverPolicy, start_seq: int | None = None) -> None:
        config = ConsumerConfig(
            durable_name=self.config.durable,
            name=self.config.durable,
            filter_subject=SUBJECTS,
            deliver_policy=policy,
            opt_start_seq=start_seq,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            max_deliver=self.config.max_deliver,
            max_ack_pending=MAX_ACK_PENDING,
        )
        await self.js.add_consumer(self.config.stream, config=config)

    async def _live_stream_created(self) -> str | None:
        """The creation time of the live stream, waiting for the hub to create it; `None` if stopped first."""
        for attempt in itertools.count(1):
            try:
                info = await self.js.stream_info(self.config.stream)
            except nats.js.errors.NotFoundError:
                logger.info("Stream %s does not exist yet; waiting for the hub to create it.", self.config.stream)
            else:
                assert info.created is not None, "nats-server 2.10+ reports when a stream was created"
                return rfc3339(info.created)
            if await self._sleep(retry_delay(min(attempt, 3))):
                return None
        raise AssertionError("unreachable")

    async def _durable_exists(self) -> bool:
        try:
            await self.js.consumer_info(self.config.stream, self.config.durable)
        except nats.js.errors.NotFoundError:
            return False
        return True

    async def _consume(self) -> None:
        while not self.stop.is_set():
            assert self._subscription is not None
            try:
                messages = await self._subscription.fetch(1, timeout=FETCH_WAIT_S)
            except nats.errors.TimeoutError:
                messages = []
            except nats.errors.Error as error:
                # A deleted durable answers "no responders" (503); a lost connection, other errors.
                logger.warning("Fetch failed (%s).", error)
                messages = []
                await self._sleep(1)
            if not messages:
                # Idle or failing: the moment to notice a durable deleted, or gone with its stream.
                try:
                    if not await self._durable_exists() and not await self._recover():
                        return
                except nats.errors.Error as error:
                    logger.warning("Could not check or recreate durable %s (%s).", self.config.durable, error)
            for message in messages:
                await self._on_message(message)

    async def _on_message(self, message: Msg) -> None:
        metadata = message.metadata
        envelope = parse_body(message.data)
        delivery = Delivery(
            subject=message.subject,
            envelope=envelope,
            position=Position(self.stream_created, metadata.sequence.stream, event_time(envelope, metadata.timestamp)),
            headers=decode_headers(message.headers),
        )
        outcome = await self._offer(delivery)
        if outcome is Outcome.FAILED and metadata.num_delivered >= self.config.max_deliver:
            self._set_aside("dead", delivery, f"The handler failed on all {metadata.num_delivered} deliveries.")
            await message.term()
        elif outcome is Outcome.FAILED:
            await message.nak(delay=retry_delay(metadata.num_delivered))
        elif outcome is Outcome.POISON:
            # Redelivering cannot make it valid: terminate it; the set-aside record says which one.
            await message.term()
        else:
            await message.ack()

    async def _offer(self, delivery: Delivery) -> Outcome:
        """Validate, dedupe, handle and record one event: the path every event takes, whatever its source."""
        problem = self.schemas.problem(delivery.envelope)
        if problem is not None:
            self._set_aside("poison", delivery, problem)
            return Outcome.POISON
        event_id = str(delivery.envelope["id"])
        moves_position = None if delivery.replayed else delivery.position
        if self.state.seen(event_id):
            if moves_position is not None:
                self.state.advance(moves_position)
            return Outcome.DUPLICATE
        try:
            # The handler's thread gets the span as its current context (to_thread copies it).
            with processing_span(
                subject=delivery.subject, event_id=event_id, headers=delivery.headers, consumer=self.config.durable
            ):
                await asyncio.to_thread(self.handle, delivery.envelope, delivery.headers)
        except Exception:
            logger.exception("The handler failed on %s %s.", delivery.subject, event_id)
            return Outcome.FAILED
        self.state.record_handled(event_id, moves_position)
        return Outcome.HANDLED

    def _set_aside(self, kind: str, delivery: Delivery, reason: str) -> None:
        logger.error(
            "%s event %s (%s, stream sequence %s): %s",
            kind.capitalize(),
            delivery.event_id,
            delivery.subject,
            delivery.position.stream_seq,
            reason,
        )
        self.state.set_aside(
            kind,
            delivery.position,
            event_id=delivery.event_id,
            subject=delivery.subject,
            reason=reason,
            advance=not delivery.replayed,
        )

    async def _replay(self, owed: Position, *, until_seq: int = 0) -> bool:
        """Offer what the hub published after `owed` in its stream incarnation, below `until_seq` if not 0.

        `until_seq` is where the new durable starts in the same stream: from there on the durable
        delivers, so the replay stops. False if stopped first.
        """
        logger.info("Replaying from the hub after %s.", owed)
        try:
            return await self._replay_pages(self.hub.after_url(owed), owed, until_seq)
        except StreamRecreated:
            logger.info("Stream incarnation %s is gone: replaying it by time.", owed.stream_created)
            return await self._replay_pages(self.hub.since_url(owed), owed, 0)

    async def _replay_pages(self, url: str | None, owed: Position, until_seq: int) -> bool:
        while url is not None:
            page = await self._replay_page(url)
            if page is None:
                return False
            for item in page["results"]:
                delivery = replayed_delivery(item, owed.stream_created)
                if until_seq and delivery.position.stream_seq >= until_seq:
                    return True  # pages are in stream order: the durable delivers the rest
                if not delivery.position.is_after(owed):
                    continue
                if self.stop.is_set():
                    return False
                if await self._offer_replayed(delivery) is Outcome.HANDLED:
                    crash_point("mid_replay")
            url = page["next"]
        return True

    async def _replay_page(self, url: str) -> dict[str, Any] | None:
        """One replay page, asking again while the hub is unavailable; `None` if stopped first."""
        for attempt in itertools.count(1):
            try:
                return await asyncio.to_thread(self.hub.page, url)
            except HubUnavailable as error:
                logger.warning("Hub unavailable (%s); asking again.", error)
            if await self._sleep(retry_delay(attempt)):
                return None
        raise AssertionError("unreachable")

    async def _offer_replayed(self, delivery: Delivery) -> Outcome:
        """`_offer` with the retries JetStream would give a durable's message: a replay cannot nak."""
        for attempt in itertools.count(1):
            outcome = await self._offer(delivery)
            if outcome is not Outcome.FAILED:
                return outcome
            if attempt >= self.config.max_deliver:
                self._set_aside("dead", delivery, f"The handler failed on all {attempt} attempts.")
                return outcome
            if await self._sleep(retry_delay(attempt)):
                return outcome
        raise AssertionError("unreachable")

    async def _on_max_deliveries(self, message: Msg) -> None:
        """JetStream gave up on a message whose last delivery never finished (a crash, a handler over `ACK_WAIT_S`)."""
        seq = int(json.loads(message.data)["stream_seq"])
        subject, envelope = "", None
        with contextlib.suppress(nats.errors.Error):
            stored = await self.js.get_msg(self.config.stream, seq)
            subject, envelope = stored.subject or "", parse_body(stored.data or b"")
        position = Position(self.stream_created, seq, event_time(envelope, dt.datetime.now(dt.UTC)))
        delivery = Delivery(subject=subject, envelope=envelope, position=position)
        self._set_aside("dead", delivery, "JetStream gave up after the durable's max deliveries.")

    async def _on_nats_error(self, error: Exception) -> None:
        logger.warning("NATS: %s", error)

    async def _sleep(self, seconds: float) -> bool:
        """Wait, unless stopped first; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
        return self.stop.is_set()
