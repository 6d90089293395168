"""POST /repos/{slug}/sync and POST /consistency/sweep (+ /remote-all): auth, errors, the report, the lock."""

import psycopg
import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from rest_framework.test import APIClient

from events.models import OutboxEvent
from hub.models import Repo, Workstream
from hub.reconcile import LOCK_KEY, reporting, runs
from tests.factories import RepoFactory
from tests.hub.reconcile.support import register, switch_checkout
from tests.tokens import token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def client() -> APIClient:
    user = User.objects.create_user("syncer")
    user.user_permissions.add(Permission.objects.get(codename="change_workstream", content_type__app_label="hub"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return api


@pytest.fixture
def reader() -> APIClient:
    api = APIClient()
    api.force_authenticate(User.objects.create_user("reader"))
    return api


@pytest.fixture
def other_session():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    other = psycopg.connect(**params, autocommit=True)
    yield other
    # Unlocked before hanging up: a closed session's locks are freed by its server process a moment
    # later, and on a busy machine the next test could still find them held.
    other.execute("SELECT pg_advisory_unlock_all()")
    other.close()


def test_sync_reconciles_the_repo_and_returns_the_report(client, tmp_path):
    repo = register(tmp_path, "clean")
    response = client.post("/repos/fixture-repo/sync", format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["repo"] == "fixture-repo" and body["fix"] is True and body["exit_code"] == 0
    assert body["counts"]["applied"] == len(body["applied"]) == 10
    assert body["drift"] == []  # each finding once, under its outcome
    assert {(item["outcome"], item["file"] is not None, item["line"] is not None) for item in body["applied"]} == {
        ("applied", True, True)
    }
    assert Workstream.objects.filter(repo=repo).count() == 3
    repo.refresh_from_db()
    assert repo.last_synced_at is not None


def test_a_sync_answer_lists_a_bounded_number_of_findings_and_names_the_command_for_all(client, tmp_path, monkeypatch):
    monkeypatch.setattr(reporting, "ANSWER_FINDINGS_PER_REPO", 3)
    register(tmp_path, "clean")

    body = client.post("/repos/fixture-repo/sync", format="json").json()

    listed = sum(len(body[name]) for name in ("drift", "conflicts", "errors", "warnings", "applied"))
    assert body["counts"]["applied"] == 10 and listed == 3
    assert body["truncated"] is True
    assert body["full_report"] == "manage.py consistency_check --repo fixture-repo --json"


def test_sync_records_events_for_transitions_it_applied(client, tmp_path):
    repo = register(tmp_path, "clean")
    client.post("/repos/fixture-repo/sync")
    switch_checkout(repo, tmp_path, "drifted")
    body = client.post("/repos/fixture-repo/sync").json()
    assert [c["key"] for c in body["conflicts"]] == ["CUST-WP-0030"]
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 1


def test_sync_needs_authentication(tmp_path):
    register(tmp_path, "clean")
    assert APIClient().post("/repos/fixture-repo/sync").status_code == 401


def test_sync_needs_the_change_workstream_permission(reader, tmp_path):
    register(tmp_path, "clean")
    assert reader.post("/repos/fixture-repo/sync").status_code == 403
    assert not Workstream.objects.exists()


def test_sync_of_unknown_repo_is_404(client):
    assert client.post("/repos/nope/sync").status_code == 404


def test_sync_without_readable_checkout_is_409(client, tmp_path):
    RepoFactory(slug="remote-only", local_path="")
    RepoFactory(slug="gone", local_path=str(tmp_path / "missing"))
    for slug in ("remote-only", "gone"):
        response = client.post(f"/repos/{slug}/sync")
        assert response.status_code == 409
        assert response.json()["code"] == "checkout_unreadable"


def test_sync_while_another_run_holds_the_lock_is_409(client, tmp_path, other_session):
    register(tmp_path, "clean")
    other_session.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    response = client.post("/repos/fixture-repo/sync")
    assert response.status_code == 409
    assert response.json()["code"] == "reconciliation_running"
    assert not Workstream.objects.exists()


def test_a_sweep_answer_lists_a_bounded_number_of_findings_in_all_with_every_count(client, tmp_path, monkeypatch):
    monkeypatch.setattr(reporting, "ANSWER_FINDINGS_TOTAL", 4)
    register(tmp_path, "clean")
    register(tmp_path, "closed", slug="closed-repo")

    body = client.post("/consistency/sweep", {"max_seconds": 300}, format="json").json()

    listed = [
        len(repo[name]) for repo in body["repos"] for name in ("drift", "conflicts", "errors", "warnings", "applied")
    ]
    assert sum(listed) == 4
    assert sum(repo["counts"]["applied"] for repo in body["repos"]) > 4
    assert body["truncated"] is True and body["full_report"] == "manage.py consistency_check --all --json"


@pytest.mark.parametrize("path", ["/consistency/sweep", "/consistency/sweep/remote-all"])
def test_sweep_reconciles_every_active_repo(client, tmp_path, path):
    register(tmp_path, "clean")
    register(tmp_path, "closed", slug="closed-repo")
    RepoFactory(slug="remote-only", local_path="")
    response = client.post(path, {"max_seconds": 300}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert sorted(r["repo"] for r in body["repos"]) == ["closed-repo", "fixture-repo"]
    assert body["skipped"] == [{"repo": "remote-only", "reason": "no local_path"}]
    assert body["not_reached"] == [] and body["fix"] is True
    assert Repo.objects.filter(last_synced_at__isnull=False).count() == 2


def test_sweep_of_one_repo(client, tmp_path):
    register(tmp_path, "clean")
    register(tmp_path, "closed", slug="closed-repo")
    body = client.post("/consistency/sweep", {"repo": "closed-repo"}, format="json").json()
    assert [r["repo"] for r in body["repos"]] == ["closed-repo"]


def test_sweep_names_the_repos_it_did_not_reach(client, tmp_path, monkeypatch):
    register(tmp_path, "clean")
    register(tmp_path, "closed", slug="closed-repo")
    clock = {"now": 0.0}
    original = runs.run_repo

    def run_repo_taking_five_seconds(repo, **kwargs):
        report = original(repo, **kwargs)
        clock["now"] += 5.0
        return report

    monkeypatch.setattr(runs.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(runs, "run_repo", run_repo_taking_five_seconds)
    body = client.post("/consistency/sweep", {"max_seconds": 1}, format="json").json()
    assert len(body["repos"]) == 1
    assert body["not_reached"] == ["fixture-repo" if body["repos"][0]["repo"] == "closed-repo" else "closed-repo"]


@pytest.mark.parametrize(
    "payload",
    [{"max_seconds": "soon"}, {"max_seconds": 0}, {"fix": "maybe"}, {"repo": "Not A Slug!"}],
)
def test_sweep_with_a_bad_body_is_400(client, payload):
    assert client.post("/consistency/sweep", payload, format="json").status_code == 400


def test_sweep_with_malformed_json_is_400(client):
    response = client.post("/consistency/sweep", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_sweep_of_unknown_repo_is_404(client):
    assert client.post("/consistency/sweep", {"repo": "nope"}, format="json").status_code == 404


def test_sweep_needs_authentication_and_permission(reader):
    assert APIClient().post("/consistency/sweep", {}, format="json").status_code == 401
    assert reader.post("/consistency/sweep", {}, format="json").status_code == 403


def test_second_concurrent_sweep_is_409(client, tmp_path, other_session):
    register(tmp_path, "clean")
    other_session.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    response = client.post("/consistency/sweep/remote-all", {"max_seconds": 300}, format="json")
    assert response.status_code == 409
    other_session.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    assert client.post("/consistency/sweep/remote-all", {"max_seconds": 300}, format="json").status_code == 200


def test_a_repo_that_fails_does_not_stop_the_sweep(client, tmp_path, monkeypatch):
    register(tmp_path, "clean")
    register(tmp_path, "closed", slug="closed-repo")
    original = runs.run_repo

    def fail_for_one_repo(repo, **kwargs):
        if repo.slug == "closed-repo":
            raise RuntimeError("disk on fire")
        return original(repo, **kwargs)

    monkeypatch.setattr(runs, "run_repo", fail_for_one_repo)
    response = client.post("/consistency/sweep", {"max_seconds": 300}, format="json")

    assert response.status_code == 200
    reports = {r["repo"]: r for r in response.json()["repos"]}
    assert reports["closed-repo"]["errors"][0]["message"] == "reconciliation failed: disk on fire"
    assert reports["fixture-repo"]["counts"]["errors"] == 0
    assert Repo.objects.get(slug="fixture-repo").last_synced_at is not None
