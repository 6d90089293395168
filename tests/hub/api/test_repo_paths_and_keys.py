"""Registering repos only strictly inside STATEHUB_REPO_ROOTS, and URL-safe keys: both a 400 when broken."""

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from hub.models import Decision, Repo, Task, Workstream
from tests.factories import RepoFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def roots(tmp_path: Path, settings) -> Path:
    allowed = tmp_path / "checkouts"
    (allowed / "state-hub" / "workplans").mkdir(parents=True)
    settings.STATEHUB_REPO_ROOTS = [str(allowed)]
    return allowed


def test_a_checkout_inside_an_allowed_root_is_registered(api: APIClient, roots: Path) -> None:
    response = api.post("/repos/", {"slug": "state-hub", "local_path": str(roots / "state-hub")}, format="json")
    assert response.status_code == 201
    assert response.json()["last_attempted_at"] is None


@pytest.mark.parametrize(
    "local_path",
    ["/", "/tmp/x", "/etc", "relative/path"],
)
def test_registering_a_checkout_outside_the_allowed_roots_is_a_400_naming_the_setting(
    api: APIClient, roots: Path, local_path: str
) -> None:
    response = api.post("/repos/", {"slug": "hostile", "local_path": local_path}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["local_path"]
    if local_path.startswith("/"):
        assert "STATEHUB_REPO_ROOTS" in response.json()["local_path"][0]
    assert not Repo.objects.filter(slug="hostile").exists()


def test_a_traversal_out_of_an_allowed_root_is_refused(api: APIClient, roots: Path) -> None:
    response = api.post(
        "/repos/", {"slug": "hostile", "local_path": str(roots / "state-hub" / ".." / ".." / "x")}, format="json"
    )
    assert response.status_code == 400
    assert "STATEHUB_REPO_ROOTS" in response.json()["local_path"][0]


def test_a_symlink_out_of_an_allowed_root_is_refused(api: APIClient, roots: Path, tmp_path: Path) -> None:
    (roots / "sneaky").symlink_to("/etc")
    response = api.post("/repos/", {"slug": "hostile", "local_path": str(roots / "sneaky")}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("spelling", ["{root}", "{root}/", "{root}/state-hub/..", "{root}/itself"])
def test_a_root_itself_as_checkout_is_a_400_naming_local_path(api: APIClient, roots: Path, spelling: str) -> None:
    # A checkout at the root would hold every other checkout: workplan_dir could name any of their folders.
    (roots / "itself").symlink_to(roots)
    response = api.post(
        "/repos/",
        {"slug": "hostile", "local_path": spelling.format(root=roots), "workplan_dir": "state-hub/workplans"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "local_path": [
            f"local_path must be a checkout inside one of STATEHUB_REPO_ROOTS ({roots.resolve()}), not a root itself."
        ]
    }
    assert not Repo.objects.filter(slug="hostile").exists()


def test_a_file_as_checkout_is_a_400(api: APIClient, roots: Path) -> None:
    (roots / "notes.md").write_text("not a checkout")
    response = api.post("/repos/", {"slug": "file", "local_path": str(roots / "notes.md")}, format="json")
    assert response.status_code == 400
    assert response.json() == {"local_path": ["local_path must be a directory (the repo's checkout)."]}


def test_a_checkout_not_cloned_yet_may_be_registered(api: APIClient, roots: Path) -> None:
    response = api.post("/repos/", {"slug": "later", "local_path": str(roots / "later")}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("workplan_dir", ["../../elsewhere/notes", "/etc", "notes/../../x", ".."])
def test_a_workplan_dir_that_is_absolute_or_climbs_out_is_a_400(api: APIClient, roots: Path, workplan_dir: str) -> None:
    response = api.post(
        "/repos/",
        {"slug": "hostile", "local_path": str(roots / "state-hub"), "workplan_dir": workplan_dir},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["workplan_dir"]


def test_patching_a_repo_outside_the_allowed_roots_is_a_400(api: APIClient, roots: Path) -> None:
    RepoFactory(slug="state-hub", local_path=str(roots / "state-hub"))
    outside = api.patch("/repos/state-hub/", {"local_path": "/"}, format="json")
    traversal = api.patch("/repos/state-hub/", {"workplan_dir": "../../etc"}, format="json")
    assert outside.status_code == traversal.status_code == 400
    assert "STATEHUB_REPO_ROOTS" in outside.json()["local_path"][0]
    assert Repo.objects.get(slug="state-hub").local_path == str(roots / "state-hub")


def test_patching_a_repo_onto_a_root_itself_is_a_400(api: APIClient, roots: Path) -> None:
    RepoFactory(slug="state-hub", local_path=str(roots / "state-hub"))
    response = api.patch("/repos/state-hub/", {"local_path": str(roots)}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["local_path"]
    assert "not a root itself" in response.json()["local_path"][0]
    assert Repo.objects.get(slug="state-hub").local_path == str(roots / "state-hub")


def test_an_older_repo_outside_the_roots_can_still_change_other_fields(api: APIClient, roots: Path) -> None:
    RepoFactory(slug="legacy", local_path="/srv/old-place")
    response = api.patch("/repos/legacy/", {"name": "Legacy"}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize("key", ["CUST/WP-0001", "CUST-WP-0001?x", "CUST#1", "a b", ".", "..", "-x", "ké"])
def test_a_workstream_key_outside_the_url_safe_alphabet_is_a_400(api: APIClient, key: str) -> None:
    repo = RepoFactory(slug="state-hub")
    response = api.post("/workstreams/", {"key": key, "repo": repo.slug, "title": "x"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["key"]
    assert not Workstream.objects.exists()


@pytest.mark.parametrize("key", ["CUST-WP-0001", "cust_wp.1", "A", "0.9-rc_1"])
def test_url_safe_workstream_keys_are_accepted_and_reachable(api: APIClient, key: str) -> None:
    repo = RepoFactory(slug="state-hub")
    assert api.post("/workstreams/", {"key": key, "repo": repo.slug, "title": "x"}, format="json").status_code == 201
    assert api.get(f"/workstreams/{key}/").status_code == 200


def test_task_and_decision_keys_outside_the_alphabet_are_a_400(api: APIClient) -> None:
    workstream = WorkstreamFactory(key="CUST-WP-0001")
    task = api.post("/tasks/", {"key": "CUST-WP-0001/T1", "workstream": workstream.key, "title": "x"}, format="json")
    decision = api.post("/decisions/", {"key": "DEC#1", "title": "x"}, format="json")
    assert task.status_code == decision.status_code == 400
    assert list(task.json()) == ["key"] and list(decision.json()) == ["key"]
    assert not Task.objects.exists() and not Decision.objects.exists()
