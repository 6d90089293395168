"""Per-aggregate order (DESIGN §5, §6.9): an aggregate's events reach the stream in commit order."""

import datetime as dt
import random
import threading
from collections import defaultdict
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

import events
from events import relay
from events.models import OutboxEvent
from events.publisher import reset_publisher
from events.subjects import REPO_REGISTERED
from events.tasks import publish_outbox_event
from tests.events.conftest import JetStreamProbe, RestartableNats
from tests.events.contract import repo_registered_attributes

pytestmark = pytest.mark.nats

AGGREGATES = ["alpha", "beta", "gamma", "delta"]


def commit_event(slug: str) -> str:
    """Record one event of repo `slug` in its own transaction; the per-event task runs after commit."""
    with transaction.atomic():
        event = events.record(
            REPO_REGISTERED.name,
            repo_registered_attributes(slug),
        )
    return str(event.id)


def stream_order(probe: JetStreamProbe) -> dict[str, list[str]]:
    """The envelope ids of each aggregate, in stream order."""
    found: dict[str, list[str]] = defaultdict(list)
    for message in probe.messages():
        found[message.envelope["attributes"]["repo_slug"]].append(message.envelope["id"])
    return found


def run_in_threads(*targets: Any) -> list[BaseException]:
    errors: list[BaseException] = []
    start_together = threading.Barrier(len(targets))

    def run(target: Any) -> None:
        try:
            start_together.wait(10)
            target()
        except BaseException as exc:  # pragma: no cover - surfaced by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


@pytest.mark.django_db(transaction=True)
def test_racing_relays_and_per_event_tasks_publish_each_aggregate_in_commit_order(
    restartable_nats: RestartableNats, settings: Any
) -> None:
    settings.NATS_CONNECT_TIMEOUT_S = 0.5
    settings.NATS_DOWN_BACKOFF_S = 0.05
    settings.NATS_DOWN_BACKOFF_MAX_S = 0.2
    settings.EVENTS_INLINE_PUBLISH_TIMEOUT_S = 0.5
    committed: dict[str, list[str]] = defaultdict(list)
    restartable_nats.stop()

    # NATS is down: every per-event task after commit fails and a backlog of interleaved aggregates forms.
    for number in range(60):
        slug = AGGREGATES[number % len(AGGREGATES)] if number % 7 else random.choice(AGGREGATES)
        committed[slug].append(commit_event(slug))
    assert OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).count() == 60

    restartable_nats.start()
    OutboxEvent.objects.update(next_attempt_at=timezone.now())
    backlog = [str(event_id) for event_id in OutboxEvent.objects.values_list("id", flat=True)]
    random.shuffle(backlog)

    def relay_drain() -> None:
        relay.relay_pending_events(batch_size=3, threads=1)

    def per_event_tasks() -> None:
        # Late, redelivered or out-of-order tasks: each may only publish a row first in its aggregate.
        for event_id in backlog:
            publish_outbox_event.apply(args=[event_id])

    def more_commits() -> None:
        for number in range(40):
            slug = AGGREGATES[(number * 3) % len(AGGREGATES)]
            committed[slug].append(commit_event(slug))

    errors = run_in_threads(relay_drain, relay_drain, per_event_tasks, more_commits)
    assert errors == []
    # Whatever the race left (a row that became first in its aggregate after every drain looked) goes next sweep.
    OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).update(next_attempt_at=timezone.now())
    relay.relay_pending_events()

    assert not OutboxEvent.objects.exclude(status=OutboxEvent.Status.PUBLISHED).exists()
    assert stream_order(JetStreamProbe(restartable_nats.url, settings.NATS_STREAM)) == committed
    reset_publisher()


@pytest.mark.django_db
def test_a_row_waits_while_an_older_row_of_its_aggregate_is_pending(jetstream: JetStreamProbe) -> None:
    first = commit_event("alpha")
    OutboxEvent.objects.filter(pk=first).update(
        status=OutboxEvent.Status.PENDING, next_attempt_at=timezone.now() + dt.timedelta(minutes=5)
    )
    second = commit_event("alpha")
    other = commit_event("beta")
    OutboxEvent.objects.filter(pk__in=[second, other]).update(
        status=OutboxEvent.Status.PENDING, next_attempt_at=timezone.now()
    )

    assert publish_outbox_event.apply(args=[second]).get()["claimed"] == 0
    report = relay.relay_pending_events()

    assert report.published == 1  # beta only: alpha's second event waits for its first
    assert [m.envelope["id"] for m in jetstream.messages()] == [other]
    OutboxEvent.objects.filter(pk=first).update(next_attempt_at=timezone.now())
    assert relay.relay_pending_events().published == 2
    assert [m.envelope["id"] for m in jetstream.messages()] == [other, first, second]


@pytest.mark.django_db
def test_a_dead_lettered_row_no_longer_holds_its_aggregate_back(jetstream: JetStreamProbe) -> None:
    first = commit_event("alpha")
    second = commit_event("alpha")
    OutboxEvent.objects.filter(pk=first).update(status=OutboxEvent.Status.FAILED)
    OutboxEvent.objects.filter(pk=second).update(status=OutboxEvent.Status.PENDING, next_attempt_at=timezone.now())

    assert relay.relay_pending_events().published == 1
    assert [m.envelope["id"] for m in jetstream.messages()] == [second]


@pytest.mark.django_db
def test_a_per_event_task_goes_on_with_the_rows_its_aggregate_was_holding(jetstream: JetStreamProbe) -> None:
    ids = [commit_event("alpha") for _ in range(3)]
    OutboxEvent.objects.update(status=OutboxEvent.Status.PENDING, next_attempt_at=timezone.now())

    result = publish_outbox_event.apply(args=[ids[0]]).get()

    assert result["published"] == 3
    assert [m.envelope["id"] for m in jetstream.messages()] == ids


@pytest.mark.django_db
def test_events_record_their_aggregate() -> None:
    commit_event("alpha")

    event = OutboxEvent.objects.get()
    assert event.aggregate == "repo:alpha"
    assert event.position > 0
