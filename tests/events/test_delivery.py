"""Delivery guarantees of DESIGN §6: outbox in the transaction, publish after commit, relay, retries."""

import datetime as dt
import threading
import time
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from events import publisher
from events.models import OutboxEvent
from events.publisher import reset_publisher
from events.relay import relay_pending_events
from events.subjects import REPO_REGISTERED
from hub import services
from hub.models import Repo
from tests.events.conftest import JetStreamProbe, RestartableNats
from tests.events.contract import repo_registered_envelope
from tests.network import connection_attempts, port_of

pytestmark = [pytest.mark.django_db, pytest.mark.nats]


def register(slug: str = "state-hub", **extra: Any) -> Repo:
    return services.repo_register(data={"slug": slug, "name": slug, **extra})


def backlog_envelope() -> tuple[uuid.UUID, dict[str, Any]]:
    event_id = uuid.uuid4()
    return event_id, repo_registered_envelope("x", event_id=event_id)


def make_all_due() -> None:
    OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).update(next_attempt_at=timezone.now())


def test_a_rolled_back_transaction_leaves_no_row_and_no_message(
    jetstream: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        register()
        raise RuntimeError("the request failed after the change")

    assert callbacks == []
    assert not Repo.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert relay_pending_events().claimed == 0
    assert jetstream.count() == 0


def test_nats_down_the_call_returns_quickly_and_the_relay_publishes_once_when_it_is_back(
    jetstream: Any, closed_nats_url: str, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    real_url = settings.NATS_URL
    settings.NATS_URL = closed_nats_url
    with connection_attempts(port_of(closed_nats_url)) as tried, django_capture_on_commit_callbacks(execute=True):
        register()

    row = OutboxEvent.objects.get()
    assert row.status == OutboxEvent.Status.PENDING
    assert row.attempts == 0  # NATS being away is not the event's fault
    # The call tried NATS and came back with its refusal, not at the end of the in-process publish's wait.
    assert tried
    assert "unreachable" in row.last_error
    assert row.next_attempt_at is not None and row.next_attempt_at > timezone.now()

    settings.NATS_URL = real_url
    assert relay_pending_events().claimed == 0  # still backing off
    make_all_due()
    report = relay_pending_events()
    make_all_due()
    again = relay_pending_events()

    assert (report.published, again.claimed) == (1, 0)
    assert jetstream.count() == 1
    row.refresh_from_db()
    assert row.status == OutboxEvent.Status.PUBLISHED
    assert row.stream_seq == 1


def test_nats_url_unset_marks_rows_skipped(nats_unset: None, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        repo = register()

    assert repo.pk is not None
    row = OutboxEvent.objects.get()
    assert row.status == OutboxEvent.Status.SKIPPED
    assert "NATS_URL" in row.last_error


def test_relay_with_nats_url_unset_skips_the_backlog(nats_unset: None) -> None:
    register("a")
    register("b")

    report = relay_pending_events()

    assert report.skipped == 2
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {OutboxEvent.Status.SKIPPED}


def test_broker_unreachable_the_call_succeeds_and_the_relay_delivers_later(
    jetstream: Any, broker_unreachable: str, django_capture_on_commit_callbacks: Any
) -> None:
    with connection_attempts(port_of(broker_unreachable)) as tried, django_capture_on_commit_callbacks(execute=True):
        register()

    # One try at the broker, refused; no retry held the call.
    assert len(tried) == 1
    row = OutboxEvent.objects.get()
    assert (row.status, row.attempts) == (OutboxEvent.Status.PENDING, 0)
    assert jetstream.count() == 0

    assert relay_pending_events().published == 1
    assert jetstream.count() == 1


def test_a_deleted_stream_is_recreated_with_org_subjects(
    jetstream: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        register("first")
    jetstream.delete_stream()

    with django_capture_on_commit_callbacks(execute=True):
        register("second")

    info = jetstream.info()
    assert info.config.subjects == ["org.>"]
    [message] = jetstream.messages()
    assert message.envelope["attributes"]["repo_slug"] == "second"
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {OutboxEvent.Status.PUBLISHED}


def test_republishing_a_row_leaves_one_message_in_the_stream(jetstream: Any) -> None:
    register()
    relay_pending_events()
    row = OutboxEvent.objects.get()
    first_seq = row.stream_seq
    # As if a relay crashed after the PubAck but before marking the row.
    OutboxEvent.objects.filter(pk=row.pk).update(
        status=OutboxEvent.Status.PENDING, stream_seq=None, published_at=None, next_attempt_at=timezone.now()
    )

    report = relay_pending_events()

    assert report.published == 1
    assert jetstream.count() == 1
    row.refresh_from_db()
    assert (row.status, row.stream_seq) == (OutboxEvent.Status.PUBLISHED, first_seq)


def oversized_row() -> OutboxEvent:
    """A row whose envelope is over the server's max payload, as recorded before envelopes were bounded."""
    event_id, envelope = backlog_envelope()
    envelope["attributes"]["name"] = "x" * 1_100_000
    return OutboxEvent.objects.create(
        id=event_id, subject=REPO_REGISTERED.name, envelope=envelope, next_attempt_at=timezone.now()
    )


def test_an_error_of_the_message_backs_off_per_row_and_fails_after_max_attempts(jetstream: Any, settings: Any) -> None:
    settings.EVENTS_MAX_ATTEMPTS = 3
    settings.EVENTS_BACKOFF_BASE_S = 10.0
    row = oversized_row()

    before = timezone.now()
    relay_pending_events()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxEvent.Status.PENDING, 1)
    assert row.next_attempt_at is not None
    assert before + dt.timedelta(seconds=5) <= row.next_attempt_at <= timezone.now() + dt.timedelta(seconds=10)

    make_all_due()
    before = timezone.now()
    relay_pending_events()
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.next_attempt_at is not None
    assert before + dt.timedelta(seconds=10) <= row.next_attempt_at <= timezone.now() + dt.timedelta(seconds=20)

    make_all_due()
    report = relay_pending_events()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxEvent.Status.FAILED, 3)
    assert report.failed == 1
    assert "limit" in row.last_error
    assert jetstream.count() == 0


def test_a_subject_no_stream_covers_after_ensuring_counts_an_attempt(jetstream: Any, settings: Any) -> None:
    import asyncio

    import nats

    async def create_foreign_stream() -> None:
        nc = await nats.connect(settings.NATS_URL)
        await nc.jetstream().add_stream(name=settings.NATS_STREAM, subjects=["elsewhere.>"])
        await nc.close()

    asyncio.run(create_foreign_stream())
    register()

    relay_pending_events()

    row = OutboxEvent.objects.get()
    assert (row.status, row.attempts) == (OutboxEvent.Status.PENDING, 1)
    assert row.next_attempt_at is not None and row.next_attempt_at > timezone.now()
    assert "No stream covers org.statehub.repo.registered" in row.last_error


def test_a_pending_row_not_yet_due_is_left_alone(jetstream: Any) -> None:
    register()
    OutboxEvent.objects.update(next_attempt_at=timezone.now() + dt.timedelta(minutes=5))

    assert relay_pending_events().claimed == 0
    assert jetstream.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_relays_draining_one_backlog_publish_every_row_exactly_once(jetstream: Any) -> None:
    now = timezone.now()
    OutboxEvent.objects.bulk_create(
        OutboxEvent(id=event_id, subject=REPO_REGISTERED.name, envelope=envelope, next_attempt_at=now)
        for event_id, envelope in (backlog_envelope() for _ in range(1200))
    )
    reports = []
    errors: list[BaseException] = []

    start_together = threading.Barrier(2)

    def drain() -> None:
        try:
            start_together.wait(10)
            reports.append(relay_pending_events(batch_size=50))
        except BaseException as exc:  # pragma: no cover - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert sum(report.published for report in reports) == 1200
    assert all(report.published > 0 for report in reports)  # both took part
    assert jetstream.count() == 1200
    assert OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED).count() == 1200
    assert OutboxEvent.objects.values("stream_seq").distinct().count() == 1200
    reset_publisher()


def test_while_nats_is_down_a_relay_sweep_claims_and_writes_nothing(
    jetstream: Any, closed_nats_url: str, settings: Any
) -> None:
    for number in range(3):
        register(f"repo-{number}")
    settings.NATS_URL = closed_nats_url

    report = relay_pending_events(batch_size=1, threads=1)

    assert (report.claimed, report.batches) == (0, 0)
    assert "unreachable" in report.errors[0]
    assert set(OutboxEvent.objects.values_list("attempts", "last_error")) == {(0, "")}


def test_when_every_batch_comes_back_unavailable_the_drain_stops_after_one(
    jetstream: Any, closed_nats_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(3):
        register(f"repo-{number}")
    settings.NATS_URL = closed_nats_url
    # NATS answered the sweep's probe, then went away before the first batch.
    monkeypatch.setattr(publisher, "probe_outcome", lambda: publisher.ProbeOutcome(""))

    report = relay_pending_events(batch_size=1, threads=1)

    assert (report.unavailable, report.batches) == (1, 1)
    assert sorted(OutboxEvent.objects.values_list("attempts", flat=True)) == [0, 0, 0]


def test_an_outage_longer_than_the_whole_back_off_schedule_fails_nothing_and_loses_nothing(
    restartable_nats: RestartableNats, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Short settings: three attempts would be spent within half a second if an outage counted.
    settings.EVENTS_MAX_ATTEMPTS = 3
    settings.EVENTS_BACKOFF_BASE_S = 0.05
    settings.EVENTS_BACKOFF_CAP_S = 0.2
    settings.EVENTS_RELAY_INTERVAL_S = 0.5
    settings.NATS_CONNECT_TIMEOUT_S = 0.5
    settings.NATS_DOWN_BACKOFF_S = 0.1
    settings.NATS_DOWN_BACKOFF_MAX_S = 30.0  # the publisher is still backing off when NATS returns
    with django_capture_on_commit_callbacks(execute=True):
        register("before")
    restartable_nats.stop()

    # Twelve rounds, each making every row due and running the relay: four times the attempts that
    # would fail an event, over at least 1.2 s, six times the longest back-off step.
    number = 12
    for round_number in range(number):
        with django_capture_on_commit_callbacks(execute=True):
            register(f"during-{round_number}")
        make_all_due()
        relay_pending_events()
        time.sleep(0.1)
    during = OutboxEvent.objects.exclude(status=OutboxEvent.Status.PUBLISHED)
    assert during.count() == number
    assert set(during.values_list("status", "attempts")) == {(OutboxEvent.Status.PENDING, 0)}

    restartable_nats.start()
    time.sleep(settings.EVENTS_RELAY_INTERVAL_S)
    report = relay_pending_events()

    assert (report.published, report.failed, report.unavailable) == (number, 0, 0)
    assert not OutboxEvent.objects.exclude(status=OutboxEvent.Status.PUBLISHED).exists()
    probe = JetStreamProbe(restartable_nats.url, settings.NATS_STREAM)
    stored = [message.envelope["id"] for message in probe.messages()]
    assert sorted(stored) == sorted(str(event_id) for event_id in OutboxEvent.objects.values_list("id", flat=True))
    assert len(stored) == len(set(stored)) == number + 1
