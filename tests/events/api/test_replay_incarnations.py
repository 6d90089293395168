"""A replay reads one stream incarnation: sequences of a stream deleted and created again are never mixed up."""

import asyncio
import datetime as dt
import io
from typing import Any

import nats
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from events.models import OutboxEvent
from events.publisher import nats_servers
from events.relay import relay_pending_events
from hub import services

pytestmark = [pytest.mark.django_db, pytest.mark.nats]


def register(*slugs: str) -> list[str]:
    """Register repos and relay their events; the ids of their `repo.registered` events, in order."""
    for slug in slugs:
        services.repo_register(data={"slug": slug, "name": slug})
    assert relay_pending_events().published == len(slugs)
    return [str(OutboxEvent.objects.get(aggregate=f"repo:{slug}").id) for slug in slugs]


def result_ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["results"]]


def publish_foreign(url: str, subject: str, count: int) -> None:
    """Another producer's messages on the stream (it covers `org.>`)."""

    async def publish() -> None:
        nc = await nats.connect(servers=nats_servers(url), connect_timeout=2, allow_reconnect=False)
        try:
            js = nc.jetstream()
            for _ in range(count):
                await js.publish(subject, b"{}")
        finally:
            await nc.close()

    asyncio.run(publish())


def test_each_published_row_names_the_incarnation_of_its_sequence(jetstream: Any, reader_api: APIClient) -> None:
    before = register("a", "b")
    first = jetstream.info().created
    jetstream.delete_stream()
    after = register("c")  # the publisher creates the stream again: its sequences start over
    second = jetstream.info().created

    rows = {str(row.id): row for row in OutboxEvent.objects.all()}
    assert [(rows[i].stream_seq, rows[i].stream_created) for i in before] == [(1, first), (2, first)]
    assert (rows[after[0]].stream_seq, rows[after[0]].stream_created) == (1, second)
    assert first != second
    page = reader_api.get("/events/?after=0").json()
    assert page["results"][0]["aggregate"] == "repo:c"  # what `ce-subject` carried
    # Without naming an incarnation a replay reads the live one.
    assert result_ids(reader_api.get("/events/?after=0").json()) == after
    assert result_ids(reader_api.get("/events/", {"after": "0", "stream_created": second.isoformat()}).json()) == after


def test_after_from_a_former_incarnation_is_409_naming_since(jetstream: Any, reader_api: APIClient) -> None:
    before = register("a", "b")
    first = jetstream.info().created
    jetstream.delete_stream()
    register("c")

    response = reader_api.get("/events/", {"after": "1", "stream_created": first.isoformat()})
    since = (first - dt.timedelta(seconds=1)).isoformat()
    former = reader_api.get("/events/", {"since": since, "stream_created": first.isoformat()})

    assert response.status_code == 409
    assert response.json()["code"] == "stream_recreated"
    assert "?since=" in response.json()["detail"]
    assert former.status_code == 200
    assert result_ids(former.json()) == before


def test_a_stream_recreated_while_this_process_was_idle_is_noticed_by_the_next_sweep(
    jetstream: Any, settings: Any
) -> None:
    register("a", "b", "c")
    jetstream.delete_stream()
    # Someone else creates it again and publishes past the last sequence this process saw (3).
    call_command("ensure_stream", stdout=io.StringIO())
    publish_foreign(settings.NATS_URL, "org.other.thing", 5)
    created = jetstream.info().created

    [row_id] = register("e")

    row = OutboxEvent.objects.get(pk=row_id)
    assert (row.stream_seq, row.stream_created) == (6, created)


def test_an_incarnation_the_hub_never_published_to_is_a_400_not_an_empty_answer(
    jetstream: Any, reader_api: APIClient
) -> None:
    register("a")
    seconds_only = jetstream.info().created.replace(microsecond=0) - dt.timedelta(seconds=1)

    for query in ({"after": "0"}, {"since": "2026-01-01T00:00:00Z"}):
        response = reader_api.get("/events/", {**query, "stream_created": seconds_only.isoformat()})
        assert response.status_code == 400
        assert response.json()["code"] == "unknown_stream_incarnation"


def test_rows_that_name_no_incarnation_belong_to_the_stream_that_existed_when_they_were_published(
    jetstream: Any, reader_api: APIClient
) -> None:
    [old] = register("a")
    first = jetstream.info().created
    jetstream.delete_stream()
    [new] = register("b")
    second = jetstream.info().created
    # As rows published before the hub recorded incarnations: neither names one.
    OutboxEvent.objects.update(stream_created=None)

    live = reader_api.get("/events/", {"after": "0"}).json()
    former = reader_api.get("/events/", {"since": "2026-01-01T00:00:00Z", "stream_created": first.isoformat()})

    assert result_ids(live) == [new]
    assert former.status_code == 400  # nothing names the former stream any more: the hub cannot tell
    # The relay's next sweep names the live stream on the rows published since it was created.
    relay_pending_events()
    assert OutboxEvent.objects.get(pk=new).stream_created == second
    assert OutboxEvent.objects.get(pk=old).stream_created is None


def test_replay_events_re_publishes_each_incarnation_in_its_own_order(jetstream: Any) -> None:
    before = register("a", "b")
    jetstream.delete_stream()
    after = register("c")
    jetstream.delete_stream()  # a third stream, empty: the replay puts all three events on it

    out = io.StringIO()
    call_command("replay_events", "--since", "2026-01-01T00:00:00Z", stdout=out)

    assert [message.envelope["id"] for message in jetstream.messages()] == before + after
