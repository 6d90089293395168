"""A database edit of a synced workstream stays in every report until file and database agree (DESIGN §8)."""

import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from rest_framework.test import APIClient

from hub.models import Workstream
from hub.reconcile import reconcile_repo
from hub.services import workstream_update
from tests.hub.reconcile.support import register

pytestmark = pytest.mark.django_db

PLAN = "workplans/CUST-WP-0040-delegate-maintenance.md"


@pytest.fixture
def editor() -> APIClient:
    user = User.objects.create_user("editor")
    user.user_permissions.add(Permission.objects.get(codename="change_workstream", content_type__app_label="hub"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def _check(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("consistency_check", "--repo", "fixture-repo", "--json", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())


def _status_conflicts(body: dict) -> list[tuple[str, str, str]]:
    return [(c["key"], c["file_value"], c["db_value"]) for c in body["conflicts"] if c.get("field") == "status"]


def test_file_ready_database_active_is_a_conflict_on_every_run_until_they_agree(tmp_path, editor):
    repo = register(tmp_path, "clean")
    path = Path(repo.local_path) / PLAN
    path.write_text(path.read_text().replace("status: active\n", "status: ready\n", 1))
    reconcile_repo(repo=repo, fix=True)
    workstream_update(
        workstream=Workstream.objects.get(key="CUST-WP-0040"), data={"status": "active"}, despite_workplan=True
    )

    runs = [_check(), _check("--fix"), _check(), _check("--fix"), _check()]
    synced = [editor.post("/repos/fixture-repo/sync").json() for _ in range(2)]

    for code, body in runs:
        assert code == 1
        assert _status_conflicts(body) == [("CUST-WP-0040", "ready", "active")]
    for body in synced:
        assert body["exit_code"] == 1
        assert _status_conflicts(body) == [("CUST-WP-0040", "ready", "active")]
    assert Workstream.objects.get(key="CUST-WP-0040").status == "active"  # never forced

    path.write_text(path.read_text().replace("status: ready\n", "status: active\n", 1))
    assert _check("--fix")[0] == 0
    code, body = _check()
    assert code == 0 and body["files_unchanged"] == 3  # agreed again: skipped by its hash once more


def test_file_active_database_completed_after_an_api_edit_stays_reported(tmp_path, editor):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    # Refused until the caller says it means it (hub.workplan_contradictions); then it is a standing conflict.
    assert editor.patch("/workstreams/CUST-WP-0040/", {"status": "completed"}, format="json").status_code == 409
    response = editor.patch("/workstreams/CUST-WP-0040/?despite_workplan=true", {"status": "completed"}, format="json")
    assert response.status_code == 200

    for _ in range(3):
        report = reconcile_repo(repo=repo, fix=True)
        assert [(c.key, c.file_value, c.db_value) for c in report.conflicts] == [
            ("CUST-WP-0040", "active", "completed")
        ]
        assert report.exit_code == 1
        assert reconcile_repo(repo=repo, fix=False).exit_code == 1
    assert Workstream.objects.get(key="CUST-WP-0040").source_hash == ""


def test_a_fixable_database_edit_is_reported_then_brought_back_to_the_file(tmp_path, editor):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    editor.patch("/workstreams/CUST-WP-0040/", {"title": "Edited in the API"}, format="json")

    first = reconcile_repo(repo=repo, fix=False)
    second = reconcile_repo(repo=repo, fix=False)
    fixed = reconcile_repo(repo=repo, fix=True)
    after = reconcile_repo(repo=repo, fix=False)

    for report in (first, second):
        assert [(i.key, i.field, i.db_value) for i in report.drift] == [("CUST-WP-0040", "title", "Edited in the API")]
    assert fixed.unresolved_drift == [] and fixed.exit_code == 0
    assert after.drift == [] and after.exit_code == 0
    assert Workstream.objects.get(key="CUST-WP-0040").title == "Delegate maintenance automations to activity-core"


def test_the_api_says_on_a_file_backed_workstream_that_the_file_wins(tmp_path, editor):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    Workstream.objects.create(key="HAND-WP-0001", repo=repo, title="Made by hand")

    synced = editor.get("/workstreams/CUST-WP-0040/").json()
    by_hand = editor.get("/workstreams/HAND-WP-0001/").json()

    assert synced["sync_note"].startswith(f"Read from {PLAN}: the file wins at the next sync.")
    assert by_hand["sync_note"] is None


def test_the_admin_says_on_a_file_backed_workstream_that_the_file_wins(tmp_path, admin_client):
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    workstream = Workstream.objects.get(key="CUST-WP-0040")

    page = admin_client.get(f"/admin/hub/workstream/{workstream.pk}/change/").content.decode()

    assert "the file wins at the next sync" in page
