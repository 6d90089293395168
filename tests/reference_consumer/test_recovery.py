"""Recovery of a lost durable or a recreated stream: 0 lost, 0 duplicates, in order, whatever step a crash hits."""

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


def consume_first_events(hub: Hub, jetstream: JetStream, consumer: ConsumerProcess, *, stop: bool = True) -> None:
    """The consumer handles a first batch, so it has a position; then it stops unless told not to."""
    consumer.start()
    hub.make_events("first")
    wait_caught_up(consumer, jetstream, len(published_in_order()))
    if stop:
        consumer.stop()


@pytest.mark.parametrize(
    ("step", "purged"),
    [
        ("after_marker", False),
        ("after_durable", False),
        # With the missed events still in the stream the new durable delivers them: no replay to crash in.
        ("after_marker", True),
        ("after_durable", True),
        ("mid_replay", True),
    ],
    ids=[
        "after_marker-in-stream",
        "after_durable-in-stream",
        "after_marker-purged",
        "after_durable-purged",
        "mid_replay-purged",
    ],
)
def test_a_crash_at_any_step_of_recovering_a_lost_durable_loses_and_repeats_nothing(
    hub: Hub, jetstream: JetStream, consumer: ConsumerProcess, step: str, purged: bool
) -> None:
    consume_first_events(hub, jetstream, consumer)
    jetstream.delete_durable()
    hub.make_events("while-down")
    if purged:
        # Gone from the stream (as by its max age): only the hub's replay still has them.
        jetstream.purge_stream()

    consumer.crash_at(step)
    consumer.start()
    hub.make_events("after")
    wait_caught_up(consumer, jetstream, len(published_in_order()))
    consumer.stop()

    assert_each_handled_once_in_order(consumer)


def test_a_recreated_stream_is_caught_up_from_the_former_incarnation_and_the_new_one(
    hub: Hub, jetstream: JetStream, consumer: ConsumerProcess
) -> None:
    consume_first_events(hub, jetstream, consumer)
    hub.make_events("old-stream")
    jetstream.delete_stream()
    hub.make_events("new-stream")  # the hub creates the stream again

    consumer.start()
    wait_caught_up(consumer, jetstream, len(published_in_order()))
    consumer.stop()

    assert_each_handled_once_in_order(consumer)


def test_a_stream_recreated_while_the_consumer_runs_is_caught_up(
    hub: Hub, jetstream: JetStream, consumer: ConsumerProcess
) -> None:
    consume_first_events(hub, jetstream, consumer, stop=False)
    jetstream.delete_stream()  # the durable goes with it
    hub.make_events("new-stream")

    wait_caught_up(consumer, jetstream, len(published_in_order()))
    consumer.stop()

    assert_each_handled_once_in_order(consumer)
