"""The reference consumer against a real hub and nats-server: once at the handler, in order, poison set aside."""

import json
import uuid
from pathlib import Path

import pytest

from tests.reference_consumer.conftest import (
    ConsumerProcess,
    Hub,
    JetStream,
    assert_each_handled_once_in_order,
    published_in_order,
    wait_caught_up,
)

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]


def test_every_event_reaches_the_handler_once_in_order_with_its_headers(
    hub: Hub, jetstream: JetStream, consumer: ConsumerProcess
) -> None:
    hub.make_events("before")  # waiting in the stream when the consumer first starts
    consumer.start("--handler", "tests.reference_consumer.handlers:print_with_headers")
    hub.make_events("while")

    wait_caught_up(consumer, jetstream, len(published_in_order()))
    consumer.stop()

    assert_each_handled_once_in_order(consumer)
    aggregates = {str(event.id): event.aggregate for event in published_in_order()}
    for envelope in consumer.handled():
        headers = envelope["_headers"]
        assert (headers["ce-id"], headers["ce-type"]) == (envelope["id"], envelope["type"])
        assert headers["ce-subject"] == aggregates[envelope["id"]]


def test_an_event_whose_handler_fails_is_delivered_again_and_handled_once(
    hub: Hub, jetstream: JetStream, consumer: ConsumerProcess, tmp_path: Path
) -> None:
    failures = tmp_path / "failures.txt"
    consumer.start("--handler", "tests.reference_consumer.handlers:fail_once", RC_TEST_FAILURES=str(failures))
    hub.make_events("flaky", goals=2, repos=1)

    wait_caught_up(consumer, jetstream, len(published_in_order()))
    consumer.stop()

    assert_each_handled_once_in_order(consumer)
    # Each event failed once first, and none was handled before an earlier one had succeeded.
    assert sorted(failures.read_text().split()) == sorted(consumer.handled_ids())
    assert consumer.handled_ids() == [str(event.id) for event in published_in_order()]


def test_an_event_the_handler_always_fails_on_is_recorded_dead_and_the_stream_moves_on(
    hub: Hub, jetstream: JetStream, consumer: ConsumerProcess
) -> None:
    consumer.start("--handler", "tests.reference_consumer.handlers:fail_repo_registrations", "--max-deliver", "2")
    hub.make_events("doomed", goals=2, repos=1)
    dead = [str(event.id) for event in published_in_order() if event.subject == "org.statehub.repo.registered"]

    wait_caught_up(consumer, jetstream, len(published_in_order()) - len(dead))
    consumer.stop()

    assert consumer.set_aside_ids("dead") == dead
    others = [str(event.id) for event in published_in_order() if str(event.id) not in dead]
    assert consumer.handled_ids() == others


def test_a_poison_message_is_set_aside_and_never_reaches_the_handler(
    hub: Hub, jetstream: JetStream, consumer: ConsumerProcess
) -> None:
    hub.make_events("first", goals=1, repos=0)
    invalid = {"id": str(uuid.uuid4()), "type": "org.statehub.repo.registered", "version": "1.0"}
    unknown = {**invalid, "id": str(uuid.uuid4()), "type": "org.statehub.comet.sighted"}
    for envelope in (invalid, unknown):
        jetstream.publish(envelope["type"], json.dumps(envelope).encode(), {"Nats-Msg-Id": envelope["id"]})
    hub.make_events("after", goals=1, repos=1)
    consumer.start()

    wait_caught_up(consumer, jetstream, len(published_in_order()))
    consumer.stop()

    assert_each_handled_once_in_order(consumer)
    assert consumer.set_aside_ids("poison") == [invalid["id"], unknown["id"]]
    assert "Poison event " + invalid["id"] in consumer.log_text()
