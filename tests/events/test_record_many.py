"""events.record_many: many outbox rows in one INSERT, with record()'s checks and transaction semantics."""

import datetime as dt

import pytest
from django.db import transaction

import events
from events.errors import EnvelopeError
from events.models import OutboxEvent

pytestmark = pytest.mark.django_db

ATTRIBUTES = {
    "task_id": "00000000-0000-0000-0000-000000000001",
    "task_key": "X-1",
    "title": "t",
    "workstream_key": "X",
    "workstream_status": "completed",
    "repo_slug": "r",
    "previous_status": "todo",
    "reason": "workstream_closed",
    "canceled_at": dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC),
}


def test_records_one_pending_row_per_item_with_its_own_id():
    rows = events.record_many("org.statehub.task.stale", [ATTRIBUTES, {**ATTRIBUTES, "task_key": "X-2"}])
    stored = OutboxEvent.objects.order_by("envelope__attributes__task_key")
    assert [r.envelope["attributes"]["task_key"] for r in stored] == ["X-1", "X-2"]
    assert {str(r.id) for r in stored} == {r.envelope["id"] for r in stored} == {str(r.id) for r in rows}
    assert all(r.status == "pending" and r.envelope["type"] == "org.statehub.task.stale" for r in stored)


def test_attributes_must_match_the_registration():
    with pytest.raises(EnvelopeError, match="missing"):
        events.record_many("org.statehub.task.stale", [{"task_key": "X-1"}])
    with pytest.raises(EnvelopeError, match="Unknown event subject"):
        events.record_many("org.statehub.nothing", [ATTRIBUTES])
    assert not OutboxEvent.objects.exists()


def test_rows_roll_back_with_the_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        events.record_many("org.statehub.task.stale", [ATTRIBUTES])
        raise RuntimeError
    assert not OutboxEvent.objects.exists()


def test_after_commit_one_relay_run_publishes_every_row(django_capture_on_commit_callbacks, jetstream):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rows = events.record_many("org.statehub.task.stale", [ATTRIBUTES, {**ATTRIBUTES, "task_key": "X-2"}])

    assert len(callbacks) == 1
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"published"}
    assert sorted(message.headers["Nats-Msg-Id"] for message in jetstream.messages()) == sorted(
        str(row.id) for row in rows
    )
