"""`/events/?after=` and `?since=&subject=`: published envelopes in publish order, cursor-paginated."""

import base64
import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

import events
from events.models import OutboxEvent
from events.replay import published_events, stream_seq_before
from tests.events.contract import repo_registered_attributes
from tests.queries import THROTTLE_QUERIES

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_live_stream(settings: Any) -> None:
    """These rows name no stream incarnation, as before the hub recorded them, and no live stream says otherwise."""
    settings.NATS_URL = ""


T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def published(slug: str, stream_seq: int, *, minutes: int = 0, status: str = "published") -> OutboxEvent:
    """An event of repo `slug` as the relay leaves it: published with its stream sequence."""
    event = events.record(
        "org.statehub.repo.registered",
        repo_registered_attributes(slug),
    )
    OutboxEvent.objects.filter(pk=event.pk).update(
        status=status,
        stream_seq=stream_seq if status == "published" else None,
        published_at=T0 + dt.timedelta(minutes=minutes) if status == "published" else None,
    )
    return event


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["results"]]


def test_after_pages_through_published_events_in_stream_order_and_skips_the_rest(reader_api: APIClient) -> None:
    # Recorded in another order than they were published.
    third = published("c", 3)
    first = published("a", 1)
    second = published("b", 2)
    published("pending", 0, status="pending")
    published("failed", 0, status="failed")

    page = reader_api.get("/events/?after=0&page_size=2").json()

    assert ids(page) == [str(first.id), str(second.id)]
    assert "count" not in page
    assert page["results"][0]["stream_seq"] == 1
    assert page["results"][0]["envelope"]["id"] == str(first.id)
    assert ids(reader_api.get(page["next"]).json()) == [str(third.id)]
    assert ids(reader_api.get("/events/?after=2").json()) == [str(third.id)]
    assert ids(reader_api.get("/events/?after=3").json()) == []


def test_a_replay_cursor_stays_valid_while_new_events_arrive(reader_api: APIClient) -> None:
    events_in_order = [published(f"r{n}", n) for n in range(1, 6)]
    page = reader_api.get("/events/?after=0&page_size=2").json()

    arriving = [published(f"new{n}", n) for n in range(6, 9)]
    seen = ids(page)
    while page["next"]:
        page = reader_api.get(page["next"]).json()
        seen += ids(page)

    assert seen == [str(event.id) for event in events_in_order + arriving]


def test_since_and_subject_narrow_the_replay(reader_api: APIClient) -> None:
    published("early", 1, minutes=0)
    late = published("late", 2, minutes=30)
    stale = events.record(
        "org.statehub.task.stale",
        {
            "task_id": uuid.uuid4(),
            "task_key": "WS-WP-0001-T01",
            "title": "t",
            "workstream_key": "WS-WP-0001",
            "workstream_status": "completed",
            "repo_slug": "late",
            "previous_status": "todo",
            "reason": "workstream_closed",
            "canceled_at": timezone.now(),
        },
    )
    OutboxEvent.objects.filter(pk=stale.pk).update(
        status="published", stream_seq=3, published_at=T0 + dt.timedelta(hours=1)
    )

    since = (T0 + dt.timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    assert ids(reader_api.get("/events/", {"since": since}).json()) == [str(late.id), str(stale.id)]
    only_repos = reader_api.get("/events/", {"since": since, "subject": "org.statehub.repo.registered"}).json()
    assert ids(only_repos) == [str(late.id)]
    only_stale = reader_api.get("/events/", {"after": "1", "subject": "org.statehub.task.stale"}).json()
    assert ids(only_stale) == [str(stale.id)]


def test_since_starts_near_its_time_and_still_finds_a_row_marked_after_a_later_one(reader_api: APIClient) -> None:
    since = T0 + dt.timedelta(hours=1)
    published("long-before", 1, minutes=0)
    # Reached the stream before `before`, but was marked published a little after `since`.
    marked_late = published("marked-late", 2, minutes=61)
    published("before", 3, minutes=55)
    after = published("after", 4, minutes=62)

    # The walk in stream order starts after the last row marked a quarter hour before `since` ...
    assert stream_seq_before(since) == 1  # long_before
    # ... and finds every row marked at or after `since`, in stream order.
    page = reader_api.get("/events/", {"since": since.isoformat().replace("+00:00", "Z")}).json()
    assert ids(page) == [str(marked_late.id), str(after.id)]
    assert [event.id for event in published_events(since=since, incarnation=None)] == [
        str(marked_late.id),
        str(after.id),
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("after=-1", "after"),
        ("after=one", "after"),
        ("after=1.5", "after"),
        ("since=yesterday", "since"),
        ("after=0&subject=org.statehub.repo.renamed", "subject"),
        ("after=0&status=failed", "status"),
        ("after=0&ordering=-created_at", "ordering"),
        ("after=0&stream_created=yesterday", "stream_created"),
    ],
)
def test_bad_replay_parameters_are_400_naming_the_parameter(query: str, field: str, reader_api: APIClient) -> None:
    response = reader_api.get(f"/events/?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_the_audit_log_without_replay_parameters_still_counts_every_status(reader_api: APIClient) -> None:
    published("a", 1)
    published("b", 0, status="failed")

    page = reader_api.get("/events/").json()

    assert page["count"] == 2
    assert reader_api.get("/events/?status=published&after=0").status_code == 200


def test_a_replay_page_runs_a_constant_number_of_queries(
    reader_api: APIClient, django_assert_max_num_queries: Any
) -> None:
    for number in range(1, 41):
        published(f"r{number}", number)

    with django_assert_max_num_queries(6 + THROTTLE_QUERIES):
        assert len(ids(reader_api.get("/events/?after=0&page_size=40").json())) == 40


def test_a_since_at_the_start_of_time_replays_everything(reader_api: APIClient) -> None:
    first = published("a", 1)

    response = reader_api.get("/events/", {"since": "0001-01-01T00:00:00Z"})

    assert response.status_code == 200
    assert ids(response.json()) == [str(first.id)]


@pytest.mark.parametrize("position", ["p=abc", "p=1e9", "p=-1", "p=99999999999999999999", "o=5&p=%00", "o=x"])
def test_a_forged_replay_cursor_is_a_400_not_a_500(position: str, reader_api: APIClient) -> None:
    cursor = base64.b64encode(position.encode()).decode()

    response = reader_api.get("/events/", {"after": "0", "cursor": cursor})

    assert response.status_code == 400
    assert "cursor" in response.json()
