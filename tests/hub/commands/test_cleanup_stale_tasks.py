"""manage.py cleanup_stale_tasks: cancels stale tasks with one event each, idempotent, dry-run, JSON."""

import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from events.models import OutboxEvent
from hub.models import ProgressEvent, Task, Workstream
from hub.reconcile import reconcile_repo
from hub.services.maintenance import stale_tasks_cleanup
from tests.factories import TaskFactory, WorkstreamFactory
from tests.hub.reconcile.support import register

pytestmark = pytest.mark.django_db
STALE = "org.statehub.task.stale"


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("cleanup_stale_tasks", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def mixed_tasks():
    """Two tasks stale for each reason, plus tasks that must be left alone."""
    closed = WorkstreamFactory(status=Workstream.Status.COMPLETED)
    archived = WorkstreamFactory(status=Workstream.Status.ARCHIVED)
    active = WorkstreamFactory(status=Workstream.Status.ACTIVE)
    now = timezone.now()
    return {
        "closed": [TaskFactory(workstream=closed, status="todo"), TaskFactory(workstream=archived, status="wait")],
        "missing": [
            TaskFactory(workstream=active, status="progress", missing_from_workplan_at=now),
            TaskFactory(workstream=active, status="todo", missing_from_workplan_at=now),
        ],
        "kept": [
            TaskFactory(workstream=closed, status="done"),  # not open
            TaskFactory(workstream=active, status="todo"),  # listed and active
            TaskFactory(workstream=active, status="done", missing_from_workplan_at=now),  # not open
        ],
    }


def test_completed_workstream_from_a_file_gets_its_open_tasks_canceled_with_one_event_each(tmp_path):
    repo = register(tmp_path, "closed", slug="closed-repo")
    reconcile_repo(repo=repo, fix=True)
    assert Task.objects.filter(status__in=Task.OPEN_STATUSES).count() == 2

    report = stale_tasks_cleanup()

    assert report.canceled == {"workstream_closed": 2, "missing_from_workplan": 0}
    events = OutboxEvent.objects.filter(subject=STALE)
    assert sorted(e.envelope["attributes"]["task_key"] for e in events) == ["CLOSED-WP-0001-T02", "CLOSED-WP-0001-T03"]
    by_key = {e.envelope["attributes"]["task_key"]: e.envelope["attributes"] for e in events}
    attributes = by_key["CLOSED-WP-0001-T03"]
    assert attributes["task_id"] == str(Task.objects.get(key="CLOSED-WP-0001-T03").pk)
    assert attributes["previous_status"] == "progress"
    assert attributes["workstream_key"] == "CLOSED-WP-0001"
    assert attributes["canceled_at"].endswith("Z")
    assert attributes["reason"] == "workstream_closed"
    assert attributes["workstream_status"] == "completed"
    assert attributes["repo_slug"] == "closed-repo"
    # the file still says todo, but the stale rule explains the cancel: no drift afterwards
    assert reconcile_repo(repo=repo, fix=False).drift == []


def test_cancels_by_reason_and_leaves_the_rest(mixed_tasks):
    output = _run()

    assert "canceled 4" in output
    assert "workstream_closed: 2" in output and "missing_from_workplan: 2" in output
    for task in mixed_tasks["closed"] + mixed_tasks["missing"]:
        task.refresh_from_db()
        assert task.status == "cancel"
    for task in mixed_tasks["kept"]:
        before = task.status
        task.refresh_from_db()
        assert task.status == before
    reasons = sorted(e.envelope["attributes"]["reason"] for e in OutboxEvent.objects.filter(subject=STALE))
    assert reasons == ["missing_from_workplan"] * 2 + ["workstream_closed"] * 2
    summary = ProgressEvent.objects.get()
    assert summary.event_type == "note" and "4 stale task" in summary.summary


def test_second_run_cancels_and_records_nothing(mixed_tasks):
    _run()
    outbox, progress = OutboxEvent.objects.count(), ProgressEvent.objects.count()

    body = json.loads(_run("--json"))

    assert body["canceled"]["total"] == 0 and body["found"]["total"] == 0
    assert (OutboxEvent.objects.count(), ProgressEvent.objects.count()) == (outbox, progress)


def test_dry_run_changes_and_records_nothing(mixed_tasks):
    output = _run("--dry-run")

    assert "would cancel 4" in output
    assert Task.objects.filter(status="cancel").count() == 0
    assert not OutboxEvent.objects.exists() and not ProgressEvent.objects.exists()


def test_json_report_parses_and_matches_the_human_summary(mixed_tasks):
    body = json.loads(_run("--dry-run", "--json"))
    human = _run("--dry-run")
    assert body["dry_run"] is True
    assert body["found"] == {"workstream_closed": 2, "missing_from_workplan": 2, "total": 4}
    assert f"{body['found']['total']} found" in human
    for reason in ("workstream_closed", "missing_from_workplan"):
        assert f"{reason}: {body['found'][reason]}" in human


def test_small_batches_cover_every_task(mixed_tasks):
    report = stale_tasks_cleanup(batch_size=1)
    assert report.total_canceled == 4
    assert OutboxEvent.objects.filter(subject=STALE).count() == 4


def test_progress_is_reported_per_batch(mixed_tasks):
    progress: list[tuple[int, int]] = []
    stale_tasks_cleanup(batch_size=3, on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(3, 4), (4, 4)]


def test_task_that_stopped_being_stale_before_its_batch_is_skipped(mixed_tasks, monkeypatch):
    from hub.services import maintenance

    original = maintenance._batches

    def batches_with_an_edit(batch_size):
        for batch in original(batch_size):
            Task.objects.filter(pk=mixed_tasks["missing"][0].pk).update(status="done")  # edited meanwhile
            yield batch

    monkeypatch.setattr(maintenance, "_batches", batches_with_an_edit)
    report = stale_tasks_cleanup()

    assert report.total_canceled == 3 and report.skipped == 1
    assert Task.objects.get(pk=mixed_tasks["missing"][0].pk).status == "done"


def test_no_progress_bar_when_stderr_is_not_a_terminal(mixed_tasks):
    err = io.StringIO()
    call_command("cleanup_stale_tasks", stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(mixed_tasks):
    err = _Terminal()
    call_command("cleanup_stale_tasks", "--batch-size", "2", stdout=io.StringIO(), stderr=err)
    assert "2/4 tasks" in err.getvalue() and "4/4 tasks" in err.getvalue()


def test_a_batch_whose_events_cannot_be_recorded_cancels_nothing(mixed_tasks, monkeypatch):
    import events

    def broken(*args, **kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(events, "record_many", broken)
    with pytest.raises(RuntimeError):
        stale_tasks_cleanup()
    assert not Task.objects.filter(status="cancel").exists()  # the cancels rolled back with their events
    assert not ProgressEvent.objects.exists()
