"""`/events/`: the outbox as an audit log, with filters; staff-only requeue of failed and skipped events."""

import pytest
from django.test import TestCase
from rest_framework.test import APIClient

import events
from events.models import OutboxEvent
from tests.events.contract import repo_registered_attributes

pytestmark = pytest.mark.django_db


def record(slug: str, status: str = OutboxEvent.Status.PENDING) -> OutboxEvent:
    event = events.record(
        "org.statehub.repo.registered",
        repo_registered_attributes(slug),
    )
    OutboxEvent.objects.filter(pk=event.pk).update(status=status, last_error="boom" if status == "failed" else "")
    event.refresh_from_db()
    return event


def test_events_are_listed_newest_first_with_their_envelope(reader_api: APIClient) -> None:
    first = record("one")
    second = record("two")

    results = reader_api.get("/events/").json()["results"]

    assert [item["id"] for item in results] == [str(second.id), str(first.id)]
    assert results[0]["type"] == "org.statehub.repo.registered"
    assert results[0]["envelope"]["attributes"]["repo_slug"] == "two"
    assert results[0]["envelope"]["id"] == str(second.id)


def test_events_are_filtered_by_type_and_status(reader_api: APIClient) -> None:
    record("one")
    failed = record("two", status="failed")

    assert [e["id"] for e in reader_api.get("/events/?status=failed").json()["results"]] == [str(failed.id)]
    assert reader_api.get("/events/?type=org.statehub.repo.registered").json()["count"] == 2
    assert reader_api.get("/events/?subject=org.statehub.repo.registered").json()["count"] == 2
    assert reader_api.get("/events/?type=org.statehub.task.stale").json()["count"] == 0


def test_one_event_is_read_by_id(reader_api: APIClient) -> None:
    event = record("one")

    assert reader_api.get(f"/events/{event.id}/").json()["status"] == "pending"
    assert reader_api.get(f"/events/{event.id}").status_code == 200


# A well-formed id no event has: fixed, so every pytest-xdist worker collects the same test ids.
@pytest.mark.parametrize("event_id", ["not-a-uuid", "6f1d2c3e-8b4a-4e5f-9a7b-0c1d2e3f4a5b", "1234", "%00"])
def test_unknown_or_malformed_event_ids_are_404(event_id: str, reader_api: APIClient, staff_api: APIClient) -> None:
    assert reader_api.get(f"/events/{event_id}/").status_code == 404
    assert staff_api.post(f"/events/{event_id}/requeue").status_code == 404


def test_events_need_authentication(anon_api: APIClient) -> None:
    event = record("one")

    assert anon_api.get("/events/").status_code == 401
    assert anon_api.get(f"/events/{event.id}/").status_code == 401
    assert anon_api.post(f"/events/{event.id}/requeue").status_code == 401


@pytest.mark.parametrize("status", ["failed", "skipped"])
def test_staff_requeue_a_failed_or_skipped_event_to_pending(status: str, staff_api: APIClient) -> None:
    event = record("one", status=status)

    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        response = staff_api.post(f"/events/{event.id}/requeue")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "pending"
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == ("pending", 0, "")
    assert len(callbacks) == 1


@pytest.mark.parametrize("status", ["pending", "published"])
def test_requeueing_an_event_that_is_not_failed_or_skipped_is_409(status: str, staff_api: APIClient) -> None:
    event = record("one", status=status)

    response = staff_api.post(f"/events/{event.id}/requeue/")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    event.refresh_from_db()
    assert event.status == status


def test_only_staff_may_requeue(api: APIClient, reader_api: APIClient) -> None:
    event = record("one", status="failed")

    assert api.post(f"/events/{event.id}/requeue").status_code == 403
    assert reader_api.post(f"/events/{event.id}/requeue").status_code == 403
    event.refresh_from_db()
    assert event.status == "failed"


def test_events_are_read_only(api: APIClient) -> None:
    event = record("one")

    assert api.post("/events/", {}, format="json").status_code == 405
    assert api.patch(f"/events/{event.id}/", {"status": "failed"}, format="json").status_code == 405
    assert api.delete(f"/events/{event.id}/").status_code == 405
