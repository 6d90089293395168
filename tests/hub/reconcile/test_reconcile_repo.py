"""hub.reconcile.reconcile_repo: every drift kind reported, fixed through the services, idempotent."""

from pathlib import Path

import pytest
from django.utils import timezone

from events.models import OutboxEvent
from hub.models import Task, Workstream
from hub.reconcile import reconcile_repo
from tests.factories import DomainGoalFactory, TaskFactory, WorkstreamFactory
from tests.hub.reconcile.support import register, switch_checkout

pytestmark = pytest.mark.django_db


def _kinds(report):
    return sorted({(item.kind, item.field) for item in report.drift}, key=str)


def test_clean_repo_in_a_fresh_hub_reports_every_workplan_as_missing(tmp_path):
    repo = register(tmp_path, "clean")
    report = reconcile_repo(repo=repo, fix=False)
    assert report.files == 3
    assert {i.key for i in report.drift if i.kind == "workplan_without_workstream"} == {
        "CUST-WP-0040",
        "CUST-WP-0041",
        "CUST-WP-0030",
    }
    assert len([i for i in report.drift if i.kind == "task_missing_in_db"]) == 7
    assert report.exit_code == 1
    assert not Workstream.objects.exists()  # report mode writes nothing


def test_fix_imports_both_styles_and_a_second_report_is_clean(tmp_path):
    repo = register(tmp_path, "clean")
    report = reconcile_repo(repo=repo, fix=True)
    assert report.exit_code == 0
    assert all(item.fixed for item in report.drift)

    legacy = Workstream.objects.get(key="CUST-WP-0041")
    assert (legacy.status, legacy.owner, legacy.source_path) == (
        "blocked",
        "platform",
        "workplans/CUST-WP-0041-legacy-list.md",
    )
    assert dict(Task.objects.filter(workstream=legacy).values_list("key", "status")) == {
        "CUST-WP-0041-T01": "done",
        "CUST-WP-0041-T02": "wait",
        "CUST-WP-0041-T03": "cancel",
    }
    archived = Workstream.objects.get(key="CUST-WP-0030")
    assert archived.status == "completed"
    assert archived.source_path == "workplans/archived/2026-04-01-CUST-WP-0030-first-steps.md"
    assert Task.objects.count() == 7
    repo.refresh_from_db()
    assert repo.last_synced_at is not None

    again = reconcile_repo(repo=repo, fix=False)
    assert again.drift == [] and again.conflicts == [] and again.exit_code == 0
    assert again.files_unchanged == 3  # skipped by content hash


def test_fix_writes_nothing_into_the_repository(tmp_path):
    repo = register(tmp_path, "clean")
    before = {p: p.read_bytes() for p in Path(repo.local_path).rglob("*") if p.is_file()}
    reconcile_repo(repo=repo, fix=True)
    after = {p: p.read_bytes() for p in Path(repo.local_path).rglob("*") if p.is_file()}
    assert before == after


def test_every_drift_category_is_reported(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    switch_checkout(repo, tmp_path, "drifted")

    report = reconcile_repo(repo=repo, fix=False)

    kinds = _kinds(report)
    for expected in [
        ("workplan_without_workstream", None),  # CUST-WP-0042 is new
        ("workstream_field", "title"),
        ("workstream_field", "status"),
        ("workstream_field", "owner"),
        ("workstream_field", "priority"),
        ("task_field", "title"),
        ("task_field", "status"),
        ("task_field", "priority"),
        ("task_field", "assignee"),
        ("task_field", "order"),
        ("task_missing_in_db", None),  # T04 added
        ("task_missing_from_workplan", "missing_from_workplan_at"),  # T02 removed
        ("workstream_missing_from_repo", "missing_from_repo_at"),  # CUST-WP-0041's file is gone
    ]:
        assert expected in kinds, expected
    status_drift = next(i for i in report.drift if i.kind == "workstream_field" and i.field == "status")
    assert (status_drift.file, status_drift.file_value, status_drift.db_value) == (
        "workplans/CUST-WP-0040-delegate-maintenance.md",
        "completed",
        "active",
    )
    # completed → proposed is not in the transition table: a conflict, not drift
    assert [(c.key, c.field, c.db_value, c.file_value) for c in report.conflicts] == [
        ("CUST-WP-0030", "status", "completed", "proposed")
    ]
    assert report.exit_code == 1


def test_fix_applies_drift_through_the_services_and_leaves_only_the_conflict(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    switch_checkout(repo, tmp_path, "drifted")
    events_before = OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count()

    report = reconcile_repo(repo=repo, fix=True)

    assert report.unresolved_drift == []
    assert len(report.conflicts) == 1 and report.exit_code == 1  # what it could not fix
    plan = Workstream.objects.get(key="CUST-WP-0040")
    assert (plan.title, plan.status, plan.owner, plan.priority) == (
        "Delegate maintenance automations (renamed)",
        "completed",
        "custodian-team",
        1,
    )
    completed = OutboxEvent.objects.filter(subject="org.statehub.workstream.completed")
    assert completed.count() == events_before + 1
    attributes = completed.order_by("-created_at")[0].envelope["attributes"]
    assert attributes["workstream_key"] == "CUST-WP-0040"
    assert attributes["previous_status"] == "active"
    # tasks were applied before the workstream completed, so the counts are the file's
    assert attributes["tasks"] == {"total": 4, "done": 2, "cancel": 0, "open": 2}

    t03 = Task.objects.get(key="CUST-WP-0040-T03")
    assert (t03.status, t03.priority, t03.assignee, t03.order) == ("done", "critical", "someone-else", 2)
    assert Task.objects.get(key="CUST-WP-0040-T01").title == "Write the delegation protocol, second edition"
    assert Task.objects.get(key="CUST-WP-0040-T04").status == "todo"
    vanished = Task.objects.get(key="CUST-WP-0040-T02")
    assert vanished.missing_from_workplan_at is not None and vanished.status == "progress"  # flagged, not deleted
    orphan = Workstream.objects.get(key="CUST-WP-0041")
    assert orphan.missing_from_repo_at is not None  # flagged, not deleted
    assert Workstream.objects.get(key="CUST-WP-0042").status == "proposed"
    assert Workstream.objects.get(key="CUST-WP-0030").status == "completed"  # not forced

    again = reconcile_repo(repo=repo, fix=False)
    assert again.drift == []
    assert [c.key for c in again.conflicts] == ["CUST-WP-0030"]


def test_second_fix_changes_nothing_and_records_no_event(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    switch_checkout(repo, tmp_path, "drifted")
    reconcile_repo(repo=repo, fix=True)
    outbox = OutboxEvent.objects.count()
    updated = sorted(Task.objects.values_list("updated_at", flat=True))

    second = reconcile_repo(repo=repo, fix=True)

    assert second.applied == []
    assert OutboxEvent.objects.count() == outbox
    assert sorted(Task.objects.values_list("updated_at", flat=True)) == updated


def test_vanished_task_flag_is_cleared_when_the_task_comes_back(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    switch_checkout(repo, tmp_path, "drifted")
    reconcile_repo(repo=repo, fix=True)
    switch_checkout(repo, tmp_path, "clean")

    report = reconcile_repo(repo=repo, fix=True)

    assert ("task_returned", "missing_from_workplan_at") in _kinds(report)
    assert ("workstream_returned", "missing_from_repo_at") in _kinds(report)
    assert Task.objects.get(key="CUST-WP-0040-T02").missing_from_workplan_at is None
    assert Workstream.objects.get(key="CUST-WP-0041").missing_from_repo_at is None


def test_a_database_edit_after_the_last_sync_is_found_although_the_file_is_unchanged(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    Task.objects.filter(key="CUST-WP-0040-T03").update(assignee="edited-in-admin", updated_at=repo.last_synced_at)
    task = Task.objects.get(key="CUST-WP-0040-T03")
    task.save()  # a later edit: updated_at moves past last_synced_at

    report = reconcile_repo(repo=repo, fix=False)

    assert [(i.key, i.field, i.file_value, i.db_value) for i in report.drift] == [
        ("CUST-WP-0040-T03", "assignee", "ops", "edited-in-admin")
    ]
    assert report.files_unchanged == 2


def test_task_created_in_the_hub_for_a_synced_workplan_is_flagged_missing(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    TaskFactory(key="CUST-WP-0040-T99", workstream=Workstream.objects.get(key="CUST-WP-0040"))

    report = reconcile_repo(repo=repo, fix=False)

    assert [(i.kind, i.key) for i in report.drift] == [("task_missing_from_workplan", "CUST-WP-0040-T99")]


def test_workstream_created_in_the_hub_without_a_file_is_an_orphan(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    WorkstreamFactory(key="CUST-WP-0999", repo=repo)

    report = reconcile_repo(repo=repo, fix=True)

    assert [(i.kind, i.key, i.fixed) for i in report.drift] == [("workstream_missing_from_repo", "CUST-WP-0999", True)]
    assert Workstream.objects.get(key="CUST-WP-0999").missing_from_repo_at is not None


def test_malformed_files_are_reported_with_file_and_line_and_the_good_one_is_applied(tmp_path):
    repo = register(tmp_path, "malformed")
    (Path(repo.local_path) / "workplans" / "MAL-WP-0007-binary.md").write_bytes(b"---\nid: MAL-WP-0007\n---\n\xff\xfe")

    report = reconcile_repo(repo=repo, fix=True)

    assert sorted((Path(e.file or "").name, e.line) for e in report.errors) == [
        ("MAL-WP-0002-bad-yaml.md", 4),
        ("MAL-WP-0003-missing-id.md", 14),
        ("MAL-WP-0004-unknown-status.md", 16),
        ("MAL-WP-0005-duplicate-task.md", 12),
        ("MAL-WP-0006-no-workplan-id.md", 2),
        ("MAL-WP-0007-binary.md", None),
    ]
    assert list(Workstream.objects.values_list("key", flat=True)) == ["MAL-WP-0001"]  # nothing half-written
    assert list(Task.objects.values_list("key", flat=True)) == ["MAL-WP-0001-T01"]
    assert report.exit_code == 1


def test_a_broken_file_does_not_make_its_workstream_an_orphan(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    path = Path(repo.local_path) / "workplans" / "CUST-WP-0041-legacy-list.md"
    path.write_text("---\nid: [broken\n---\n")

    report = reconcile_repo(repo=repo, fix=True)

    assert [e.file for e in report.errors] == ["workplans/CUST-WP-0041-legacy-list.md"]
    assert not [i for i in report.drift if i.kind in ("workstream_missing_from_repo", "task_missing_from_workplan")]
    assert Workstream.objects.get(key="CUST-WP-0041").missing_from_repo_at is None


def test_task_id_listed_in_two_files_skips_the_second_file(tmp_path):
    repo = register(tmp_path, "clean")
    extra = Path(repo.local_path) / "workplans" / "CUST-WP-0050-copy.md"
    extra.write_text("---\nid: CUST-WP-0050\n---\n## Task T1: Copy\n```task\nid: CUST-WP-0040-T01\n```\n")

    report = reconcile_repo(repo=repo, fix=True)

    assert [(e.file, e.line) for e in report.errors] == [("workplans/CUST-WP-0050-copy.md", 5)]
    assert not Workstream.objects.filter(key="CUST-WP-0050").exists()


def test_repo_mismatch_and_unknown_goal_are_warnings_and_such_files_are_rechecked(tmp_path):
    repo = register(tmp_path, "clean", slug="other-slug")
    goal = DomainGoalFactory(key="custodian-automation")
    path = Path(repo.local_path) / "workplans" / "CUST-WP-0040-delegate-maintenance.md"
    path.write_text(path.read_text().replace("priority: 2\n", "priority: 2\ndomain_goal: custodian-automation\n"))

    first = reconcile_repo(repo=repo, fix=True)
    second = reconcile_repo(repo=repo, fix=False)

    assert Workstream.objects.get(key="CUST-WP-0040").domain_goal == goal
    assert first.exit_code == 2 and second.exit_code == 2  # warnings only, and still reported
    assert len(second.warnings) == 3  # each file declares fixture-repo
    assert second.drift == []


def test_workplan_id_owned_by_another_repo_is_a_conflict(tmp_path):
    WorkstreamFactory(key="CUST-WP-0040")
    repo = register(tmp_path, "clean")

    report = reconcile_repo(repo=repo, fix=True)

    assert any(c.key == "CUST-WP-0040" and "belongs to repo" in c.message for c in report.conflicts)
    assert Workstream.objects.filter(key="CUST-WP-0040").exclude(repo=repo).count() == 1


def test_missing_checkout_is_reported_not_raised(tmp_path):
    repo = register(tmp_path, "clean")
    repo.local_path = str(tmp_path / "nowhere")

    report = reconcile_repo(repo=repo, fix=True)

    assert [e.kind for e in report.errors] == ["unreadable_checkout"]
    assert report.exit_code == 1


def test_empty_workplan_dir_missing_does_not_orphan_everything(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    (Path(repo.local_path) / "workplans").rename(Path(repo.local_path) / "moved")

    report = reconcile_repo(repo=repo, fix=True)

    assert report.errors[0].kind == "unreadable_checkout"
    assert not Workstream.objects.filter(missing_from_repo_at__isnull=False).exists()


def test_report_as_dict_is_json_ready(tmp_path):
    import json

    repo = register(tmp_path, "clean")
    body = reconcile_repo(repo=repo, fix=True).as_dict()
    decoded = json.loads(json.dumps(body))
    assert decoded["repo"] == "fixture-repo"
    assert decoded["counts"]["drift"] == decoded["counts"]["applied"] == len(decoded["applied"]) == 10
    assert decoded["drift"] == []  # each finding once: applied drift is listed under `applied` only
    assert decoded["applied"][0].keys() >= {"kind", "file", "line", "message", "field", "outcome", "database_value"}
    assert {item["outcome"] for item in decoded["applied"]} == {"applied"}
    assert decoded["synced_at"].endswith("Z")


def test_task_moved_to_another_workplan_follows_its_file(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    workplans = Path(repo.local_path) / "workplans"
    source = workplans / "CUST-WP-0040-delegate-maintenance.md"
    text = source.read_text()
    block = text[text.index("## Task T03") :]
    source.write_text(text.replace(block, ""))
    target = workplans / "CUST-WP-0041-legacy-list.md"
    target.write_text(target.read_text() + "\n" + block)

    report = reconcile_repo(repo=repo, fix=True)

    moved = Task.objects.get(key="CUST-WP-0040-T03")
    assert moved.workstream.key == "CUST-WP-0041" and moved.missing_from_workplan_at is None
    assert ("task_field", "workstream") in _kinds(report)
    assert not [i for i in report.drift if i.kind == "task_missing_from_workplan"]
    assert reconcile_repo(repo=repo, fix=False).drift == []


def test_an_edit_made_while_the_sync_runs_is_rechecked_next_time(tmp_path, monkeypatch):
    from hub.reconcile import runs

    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    path = Path(repo.local_path) / "workplans" / "CUST-WP-0041-legacy-list.md"
    path.write_text(path.read_text().replace("Body without", "A body without"))  # re-read, nothing to change
    original = runs.compare

    def compare_during_a_concurrent_edit(*args):
        Task.objects.filter(key="CUST-WP-0040-T01").update(assignee="someone", updated_at=timezone.now())
        return original(*args)

    monkeypatch.setattr(runs, "compare", compare_during_a_concurrent_edit)
    reconcile_repo(repo=repo, fix=True)
    monkeypatch.undo()

    report = reconcile_repo(repo=repo, fix=False)
    assert [(i.key, i.field) for i in report.drift] == [("CUST-WP-0040-T01", "assignee")]


def test_a_workplan_the_services_refuse_is_a_conflict_and_the_others_are_imported(tmp_path):
    repo = register(tmp_path, "clean")
    path = Path(repo.local_path) / "workplans" / "CUST-WP-0041-legacy-list.md"
    path.write_text(path.read_text().replace("title: Older workplan", "title: " + "x" * 400))

    report = reconcile_repo(repo=repo, fix=True)

    assert [c.key for c in report.conflicts] == ["CUST-WP-0041"]
    assert "could not be applied" in report.conflicts[0].message
    assert sorted(Workstream.objects.values_list("key", flat=True)) == ["CUST-WP-0030", "CUST-WP-0040"]
    assert not Task.objects.filter(key__startswith="CUST-WP-0041").exists()
    assert report.exit_code == 1


def test_a_file_whose_id_changed_orphans_the_old_workstream_and_creates_the_new_one(tmp_path):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    path = Path(repo.local_path) / "workplans" / "CUST-WP-0041-legacy-list.md"
    path.write_text(path.read_text().replace("id: CUST-WP-0041\n", "id: CUST-WP-0141\n"))

    report = reconcile_repo(repo=repo, fix=True)

    assert ("workstream_missing_from_repo", "CUST-WP-0041") in {(i.kind, i.key) for i in report.drift}
    assert Workstream.objects.get(key="CUST-WP-0041").missing_from_repo_at is not None
    assert Workstream.objects.get(key="CUST-WP-0141").source_path == "workplans/CUST-WP-0041-legacy-list.md"
    # its tasks kept their ids, so they follow the file into the new workstream
    assert Task.objects.get(key="CUST-WP-0041-T02").workstream.key == "CUST-WP-0141"
    again = reconcile_repo(repo=repo, fix=False)
    assert again.drift == [] and again.files_unchanged == 3
