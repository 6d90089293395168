"""`manage.py replay_events`: stored envelopes go out again with their original ids, bytes and headers."""

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from events.models import OutboxEvent
from events.relay import relay_pending_events
from hub import services
from tests.events.conftest import JetStreamProbe

pytestmark = [pytest.mark.django_db, pytest.mark.nats]

SINCE = "2000-01-01T00:00:00Z"


def publish_three() -> list[str]:
    """Three registered repos, published by the relay; their event ids in publish order."""
    for slug in ("a", "b", "c"):
        services.repo_register(data={"slug": slug, "name": slug})
    assert relay_pending_events().published == 3
    return [str(event_id) for event_id in OutboxEvent.objects.order_by("stream_seq").values_list("id", flat=True)]


def replay(*args: str) -> str:
    out = io.StringIO()
    call_command("replay_events", *args, stdout=out)
    return out.getvalue()


def test_a_lost_stream_is_refilled_with_the_same_ids_bytes_and_headers(jetstream: JetStreamProbe) -> None:
    ids = publish_three()
    original = {message.envelope["id"]: message for message in jetstream.messages()}
    jetstream.delete_stream()

    output = replay("--since", SINCE)

    assert "Re-published 3 event(s)" in output and "3 stored again" in output
    again = jetstream.messages()
    assert [message.envelope["id"] for message in again] == ids
    for message in again:
        assert message.data == original[message.envelope["id"]].data
        assert message.headers == original[message.envelope["id"]].headers


def test_a_replay_inside_the_duplicate_window_stores_nothing_twice(jetstream: JetStreamProbe) -> None:
    publish_three()

    output = replay("--since", SINCE)

    assert "3 dropped by JetStream as duplicates" in output
    assert jetstream.count() == 3


def test_since_and_subject_narrow_what_is_replayed(jetstream: JetStreamProbe) -> None:
    ids = publish_three()
    OutboxEvent.objects.filter(pk=ids[0]).update(published_at=timezone.now() - dt.timedelta(days=2))
    jetstream.delete_stream()
    yesterday = (timezone.now() - dt.timedelta(days=1)).isoformat()

    assert "Re-published 0 event(s)" in replay("--since", yesterday, "--subject", "org.statehub.task.stale")
    assert "Re-published 2 event(s)" in replay("--since", yesterday, "--subject", "org.statehub.repo.registered")
    assert [message.envelope["id"] for message in jetstream.messages()] == ids[1:]


def test_a_dry_run_counts_and_names_the_first_and_last_without_sending(jetstream: JetStreamProbe) -> None:
    ids = publish_three()
    jetstream.delete_stream()

    output = replay("--since", SINCE, "--dry-run")

    assert "Would re-publish 3 event(s)" in output
    assert f"first {ids[0]}, last {ids[2]}" in output
    assert jetstream.count() == 0


def test_pending_and_failed_rows_are_not_replayed(jetstream: JetStreamProbe) -> None:
    services.repo_register(data={"slug": "a", "name": "a"})
    services.repo_register(data={"slug": "b", "name": "b"})
    OutboxEvent.objects.filter(envelope__attributes__repo_slug="b").update(status=OutboxEvent.Status.FAILED)

    assert "Would re-publish nothing" in replay("--since", SINCE, "--dry-run")


def test_without_nats_the_replay_says_so_and_fails(nats_unset: None) -> None:
    with pytest.raises(CommandError, match="NATS_URL is not set"):
        replay("--since", SINCE)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last tuesday"], "ISO-8601"),
        (["--since", SINCE, "--subject", "org.statehub.repo.renamed"], "Unknown subject"),
        (["--since", SINCE, "--batch-size", "0"], "positive"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(args: list[str], message: str, jetstream: Any) -> None:
    with pytest.raises(CommandError, match=message):
        replay(*args)
