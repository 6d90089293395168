"""The low-level publisher: PubAcks, dedupe, stream creation, fast failure while NATS is down."""

import asyncio
import logging
import socket
import threading
import time
from typing import Any

import nats
import pytest

from events import metrics, nats_connection, publisher
from events.nats_connection import Connection
from events.publisher import OutgoingMessage, PublishResult, publish_event, publish_messages, subject_matches
from events.publisher_loop import PublisherLoop
from events.stream import wanted_stream
from tests.events.contract import repo_registered_envelope
from tests.network import connection_attempts, port_of

pytestmark = pytest.mark.nats


def envelope() -> dict[str, Any]:
    return repo_registered_envelope()


def test_publish_returns_the_stream_sequence_and_a_repeat_is_a_duplicate(jetstream: Any) -> None:
    event = envelope()

    first = publish_event(event["type"], event)
    second = publish_event(event["type"], event)

    assert first.ok and first.stream_seq == 1 and not first.duplicate
    assert second.ok and second.duplicate and second.stream_seq == 1
    [stored] = jetstream.messages()
    assert stored.headers["Nats-Msg-Id"] == event["id"]


def test_without_nats_url_publishing_is_a_skipped_no_op(nats_unset: None) -> None:
    result = publish_event("org.statehub.repo.registered", envelope())

    assert (result.ok, result.skipped, result.outcome) == (False, True, "skipped")


def test_while_nats_is_down_publishes_fail_fast_as_retryable(closed_nats_url: str, settings: Any) -> None:
    settings.NATS_URL = closed_nats_url
    settings.NATS_DOWN_BACKOFF_S = 60.0  # the window outlasts the test however busy the machine is
    publisher.reset_publisher()
    with connection_attempts(port_of(closed_nats_url)) as tried_first:
        first = publish_event("org.statehub.repo.registered", envelope())
    with connection_attempts(port_of(closed_nats_url)) as tried_later:
        later = [publish_event("org.statehub.repo.registered", envelope()) for _ in range(4)]
    publisher.reset_publisher()

    # The first publish tried NATS; the others failed at once, inside the back-off window, trying nothing.
    assert tried_first and tried_later == []
    assert all(result.outcome == "unavailable" and "unreachable" in result.error for result in [first, *later])


def test_a_batch_is_published_pipelined_with_distinct_sequences(jetstream: Any) -> None:
    messages = [publisher.message_for(envelope()) for _ in range(1000)]

    results = publish_messages(messages)

    assert all(result.ok for result in results)
    assert sorted(result.stream_seq or 0 for result in results) == list(range(1, 1001))
    assert jetstream.count() == 1000


def test_two_processes_creating_the_missing_stream_concurrently_both_succeed(jetstream: Any, settings: Any) -> None:
    # Two independent publishers (own loop, own connection), as in two worker processes.
    config = publisher._config(None)
    creators = [PublisherLoop(), PublisherLoop()]
    results: list[list[PublishResult]] = []
    start_together = threading.Barrier(2)

    def publish(creator: PublisherLoop) -> None:
        start_together.wait(5)
        results.append(creator.submit([publisher.message_for(envelope())], config).result(15))

    threads = [threading.Thread(target=publish, args=(creator,)) for creator in creators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    for creator in creators:
        creator.shutdown()

    assert [result.ok for batch in results for result in batch] == [True, True]
    assert jetstream.info().config.subjects == ["org.>"]
    assert jetstream.count() == 2


def test_an_existing_stream_with_other_settings_counts_as_ensured(jetstream: Any) -> None:
    created: list[Any] = []

    async def scenario() -> None:
        nc = await nats.connect(jetstream.url)
        await nc.jetstream().add_stream(name=jetstream.stream, subjects=["org.>"], max_msgs=1000)
        connection = Connection(jetstream.url, jetstream.stream)
        await connection.open(2)
        await connection.ensure_stream(wanted_stream(), 2)  # must not raise
        created.append(connection.stream_created)
        await connection.close()
        await nc.close()

    asyncio.run(scenario())
    assert jetstream.info().config.max_msgs == 1000
    assert created == [jetstream.info().created]


def test_a_stream_deleted_under_a_plain_subscriber_is_recreated(jetstream: Any) -> None:
    assert publish_event("org.statehub.repo.registered", envelope()).ok
    jetstream.delete_stream()
    listening = threading.Event()
    done = threading.Event()

    async def subscriber() -> None:
        nc = await nats.connect(jetstream.url)
        await nc.subscribe("org.statehub.>")
        await nc.flush()
        listening.set()
        while not done.is_set():
            await asyncio.sleep(0.05)
        await nc.close()

    thread = threading.Thread(target=lambda: asyncio.run(subscriber()))
    thread.start()
    listening.wait(5)
    try:
        # The publish waits out its timeout (the subscriber answers no ack), then creates the stream within
        # the same timeout: generous enough for a busy machine.
        result = publish_event("org.statehub.repo.registered", envelope(), timeout=2)
    finally:
        done.set()
        thread.join(5)

    assert result.ok
    assert jetstream.count() == 1


def test_a_payload_over_the_limit_is_a_permanent_failure(jetstream: Any) -> None:
    [result] = publish_messages([OutgoingMessage("org.statehub.repo.registered", b"x" * 2_000_000, "big")])

    assert result.outcome == "permanent"


@pytest.mark.parametrize(
    ("subject_filter", "subject", "expected"),
    [
        ("org.>", "org.statehub.repo.registered", True),
        ("org.>", "org", False),
        ("org.*.repo.*", "org.statehub.repo.registered", True),
        ("org.*", "org.statehub.repo", False),
        ("other.>", "org.statehub.repo.registered", False),
        ("org.statehub.repo.registered", "org.statehub.repo.registered", True),
    ],
)
def test_subject_filters_match_as_nats_does(subject_filter: str, subject: str, expected: bool) -> None:
    assert subject_matches(subject_filter, subject) is expected


@pytest.fixture
def silent_nats_url(tmp_path: Any) -> Any:
    """A nats-server whose JetStream never acknowledges: no JetStream, and a subscriber that never replies."""
    import subprocess

    from statehub import devservers

    port = devservers.free_port()
    server = subprocess.Popen(
        [devservers.nats_server_binary(), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"nats://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        ready = threading.Event()
        stop = threading.Event()

        def swallow_everything() -> None:
            async def main() -> None:
                nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)

                async def ignore(msg: Any) -> None:
                    return None

                await nc.subscribe("org.>", cb=ignore)
                await nc.subscribe("$JS.>", cb=ignore)
                await nc.flush()
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.05)
                await nc.close()

            asyncio.run(main())

        listener = threading.Thread(target=swallow_everything, daemon=True)
        listener.start()
        assert ready.wait(10)
        yield url
        stop.set()
        listener.join(5)
    finally:
        devservers.stop_process(server)


def test_a_server_that_never_acknowledges_costs_one_timeout_then_publishes_fail_fast(
    silent_nats_url: str, settings: Any
) -> None:
    settings.NATS_URL = silent_nats_url
    settings.NATS_PUBLISH_TIMEOUT_S = 0.5
    settings.NATS_DOWN_BACKOFF_S = 60.0  # the window outlasts the test however busy the machine is
    publisher.reset_publisher()
    try:
        first = publish_event("org.statehub.repo.registered", envelope())
        later = [publish_event("org.statehub.repo.registered", envelope()) for _ in range(5)]
    finally:
        publisher.reset_publisher()

    assert first.outcome == "unavailable" and first.timed_out
    # None of the later ones waited for a PubAck: each failed at once with the first one's reason.
    assert not any(result.timed_out for result in later)
    assert all(result.outcome == "unavailable" and "did not acknowledge" in result.error for result in later)


def test_failures_in_a_row_double_the_fail_fast_window_up_to_the_maximum(closed_nats_url: str, settings: Any) -> None:
    settings.NATS_URL = closed_nats_url
    settings.NATS_DOWN_BACKOFF_S = 10.0
    settings.NATS_DOWN_BACKOFF_MAX_S = 25.0
    publisher.reset_publisher()
    probes = []
    try:
        for _ in range(4):
            # The relay's probe connects even inside the window, and a failure extends it.
            before = time.monotonic()
            assert "unreachable" in publisher.probe()
            probes.append((before, publisher._get_publisher()._down_until, time.monotonic()))
    finally:
        publisher.reset_publisher()

    # Each window opened at its failure, which came between the clock readings around the probe.
    for (before, down_until, after), window in zip(probes, [10.0, 20.0, 25.0, 25.0], strict=True):
        assert before + window <= down_until <= after + window


def test_a_probe_that_reaches_nats_ends_the_fail_fast_window(
    jetstream: Any, closed_nats_url: str, settings: Any
) -> None:
    real_url = settings.NATS_URL
    settings.NATS_URL = closed_nats_url
    settings.NATS_DOWN_BACKOFF_S = 30.0
    assert publish_event("org.statehub.repo.registered", envelope()).outcome == "unavailable"
    settings.NATS_URL = real_url
    publisher._get_publisher()._down_url = real_url  # as if this server had been the one that was down

    assert publish_event("org.statehub.repo.registered", envelope()).outcome == "unavailable"
    assert publisher.probe() == ""
    assert publish_event("org.statehub.repo.registered", envelope()).ok


@pytest.mark.parametrize(
    ("subject", "event_id", "timestamp", "aggregate"),
    [
        (
            "org.statehub.repo.registered",
            "0b8f0a7e-6a7d-4a3c-9d6e-1f2a3b4c5d6e",
            "2026-12-03T14:00:00.000Z",
            "repo:state-hub",
        ),
        ("org.other.thing", ' an id\r\nwith 100% "odd" bytes \u20ac ', "", ""),
        ("org.statehub.workstream.completed", "id", "", "workstream:WP 1 \u20ac"),
    ],
)
def test_the_pre_encoded_header_section_is_what_nats_py_writes_for_the_headers(
    jetstream: Any, subject: str, event_id: str, timestamp: str, aggregate: str
) -> None:
    message = OutgoingMessage(subject, b'{"x": 1}', event_id, timestamp, aggregate)

    nats_py, ours = both_writes(jetstream, message)

    assert ours == nats_py
    assert ours.startswith(f"HPUB {subject} _INBOX.x.1 ".encode())


@pytest.mark.parametrize("tracestate", ["", "vendor=abc,other=x y"])
def test_the_trace_context_goes_out_the_same_on_the_raw_path_and_through_nats_py(
    jetstream: Any, tracestate: str
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    message = OutgoingMessage(
        "org.statehub.repo.registered", b"{}", "id-1", "", "repo:x", traceparent=traceparent, tracestate=tracestate
    )

    nats_py, ours = both_writes(jetstream, message)

    assert ours == nats_py
    assert f"\r\ntraceparent: {traceparent}\r\n".encode() in ours
    assert (b"\r\ntracestate: " in ours) is bool(tracestate)


def both_writes(jetstream: Any, message: OutgoingMessage) -> list[bytes]:
    """The bytes nats-py's `publish` writes for the message's headers dict, and the raw path's."""
    subject = message.subject

    async def written() -> list[bytes]:
        connection = Connection(jetstream.url, jetstream.stream)
        await connection.open(2)
        assert connection.raw_publish
        commands: list[bytes] = []

        async def capture(command: bytes, priority: bool = False) -> None:
            commands.append(bytes(command))

        connection.nc._send_command = capture
        try:
            await connection.nc.publish(subject, message.payload, reply="_INBOX.x.1", headers=message.headers)
            await connection._publish_one(message, "_INBOX.x.1")
        finally:
            del connection.nc._send_command
            await connection.close()
        return commands

    commands: list[bytes] = asyncio.run(written())
    return commands


def test_the_raw_write_is_used_only_on_a_nats_py_version_it_was_proved_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # The byte-for-byte test above runs on the installed nats-py: that is the version the gate names.
    assert nats_connection.nats_py_version() in nats_connection.RAW_PUBLISH_VERSIONS
    nats_connection.raw_publish_proved.cache_clear()
    monkeypatch.setattr(nats_connection, "nats_py_version", lambda: "9.9.9")
    try:
        assert nats_connection.raw_publish_proved() is False
    finally:
        nats_connection.raw_publish_proved.cache_clear()


def test_an_unexpected_error_in_the_raw_write_publishes_through_nats_py_and_says_so_once(
    jetstream: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Connection, message: OutgoingMessage, reply: str) -> None:
        raise AttributeError("'Client' object has no attribute '_flush_queue'")  # as a changed internal would

    monkeypatch.setattr(Connection, "_write_raw", broken)
    monkeypatch.setattr(nats_connection, "_raw_failure_logged", False)
    fallbacks = metrics.PUBLISH_FALLBACKS._value.get()

    with caplog.at_level(logging.ERROR, logger="events.nats_connection"):
        first = publish_event("org.statehub.repo.registered", envelope())
        second = publish_event("org.statehub.repo.registered", envelope())

    assert first.ok and second.ok  # published, not taken for NATS being away
    assert jetstream.count() == 2
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "falling back to the public publish()" in errors[0].getMessage()
    assert metrics.PUBLISH_FALLBACKS._value.get() == fallbacks + 1  # the connection then stopped using it
