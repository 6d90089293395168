"""hub.reconcile.comparing.compare: pure, so its decisions are checked here without a database."""

import datetime as dt
import uuid

from hub.models import Task, Workstream
from hub.reconcile.comparing import compare
from hub.reconcile.reading import FileRead, Reading
from hub.reconcile.snapshot import Snapshot
from hub.workplans import parse_workplan

REPO_ID = uuid.uuid4()
FILE = "workplans/CUST-WP-0001-x.md"
LOADED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TEXT = (
    "---\nid: CUST-WP-0001\ntitle: Plan\nstatus: ready\n---\n# Plan\n\n"
    "## Task T1: First\n```task\nid: CUST-WP-0001-T1\nstatus: todo\n```\n"
)


def _reading(text: str = TEXT, *, not_reached: list[str] | None = None) -> Reading:
    spec = parse_workplan(text.encode(), path=FILE)
    return Reading(
        files=[FileRead(path=FILE, content_hash=spec.content_hash, spec=spec)], not_reached=not_reached or []
    )


def _snapshot(
    *, status: str = "ready", source_hash: str = "", extra: list[Workstream] | None = None, task_status: str = "todo"
) -> Snapshot:
    workstream = Workstream(
        key="CUST-WP-0001", repo_id=REPO_ID, title="Plan", status=status, source_path=FILE, source_hash=source_hash
    )
    task = Task(key="CUST-WP-0001-T1", title="First", status=task_status, priority="medium", order=1)
    task.workstream = workstream
    workstreams = {ws.key: ws for ws in [workstream, *(extra or [])]}
    return Snapshot(
        repo_id=REPO_ID,
        repo_slug="fixture-repo",
        workstreams=workstreams,
        by_path={ws.source_path: ws for ws in workstreams.values() if ws.source_path},
        changed_ids=set(),
        loaded_at=LOADED_AT,
        tasks={task.key: task},
    )


def test_a_workplan_that_agrees_plans_only_to_store_its_hash():
    result = compare(_reading(), _snapshot())
    assert result.drift == [] and result.conflicts == []
    assert [(plan.spec.key, plan.workstream_changes) for plan in result.workplans] == [
        ("CUST-WP-0001", {"source_hash": _reading().specs[0].content_hash})
    ]


def test_a_forbidden_status_move_is_a_conflict_and_clears_the_stored_hash():
    result = compare(_reading(), _snapshot(status="active", source_hash="a" * 64))
    assert [(c.key, c.field, c.file_value, c.db_value) for c in result.conflicts] == [
        ("CUST-WP-0001", "status", "ready", "active")
    ]
    assert [plan.workstream_changes for plan in result.workplans] == [{"source_hash": ""}]


def test_a_file_with_a_new_workplan_plans_its_creation_with_its_tasks():
    empty = Snapshot(
        repo_id=REPO_ID, repo_slug="fixture-repo", workstreams={}, by_path={}, changed_ids=set(), loaded_at=LOADED_AT
    )
    result = compare(_reading(), empty)
    plan = result.workplans[0]
    assert plan.is_fresh and plan.created is not None and plan.created["key"] == "CUST-WP-0001"
    assert [values["key"] for _, values in plan.task_plan] == ["CUST-WP-0001-T1"]
    assert [i.kind for i in result.drift] == ["workplan_without_workstream", "task_missing_in_db"]


def test_an_unreached_file_is_no_orphan_when_the_reading_was_cut_short():
    other = Workstream(key="CUST-WP-0002", repo_id=REPO_ID, title="Later", source_path="workplans/CUST-WP-0002.md")
    cut_short = compare(_reading(not_reached=["workplans/CUST-WP-0002.md"]), _snapshot(extra=[other]))
    complete = compare(_reading(), _snapshot(extra=[other]))
    assert cut_short.orphans == []
    assert [ws.key for ws, _ in complete.orphans] == ["CUST-WP-0002"]


def test_a_task_the_stale_rule_canceled_is_not_reopened_by_the_file_of_its_closed_workstream():
    closed = TEXT.replace("status: ready", "status: completed")
    result = compare(_reading(closed), _snapshot(status="completed", task_status="cancel"))
    assert result.conflicts == []
    assert [(d.key, d.field) for d in result.drift if d.field == "status"] == []


def test_a_canceled_task_the_file_of_an_open_workstream_reopens_is_a_conflict():
    result = compare(_reading(), _snapshot(task_status="cancel"))
    assert [(c.key, c.field, c.file_value, c.db_value) for c in result.conflicts] == [
        ("CUST-WP-0001-T1", "status", "todo", "cancel")
    ]
