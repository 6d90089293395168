"""Reading repositories safely (DESIGN §8): hostile checkouts and files are reported, never read outside the roots."""

import os
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from hub.models import Repo, Task, Workstream
from hub.reconcile import reading, reconcile_repo, sweep
from tests.factories import RepoFactory
from tests.hub.reconcile.support import checkout, opened_files, register

pytestmark = pytest.mark.django_db

ALIAS_BOMB = "\n".join(
    [
        "---",
        "id: BOMB-WP-0001",
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)),
        "---",
        "",
    ]
)


@pytest.fixture
def syncer() -> APIClient:
    user = User.objects.create_user("syncer")
    user.user_permissions.add(Permission.objects.get(codename="change_workstream", content_type__app_label="hub"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def _outside(paths: list[str], root: Path) -> list[str]:
    """Opened paths outside the checkout, but the interpreter's own (modules imported on first use)."""
    base = os.path.realpath(root)
    own = (sys.prefix, sys.base_prefix, *sys.path)
    return [
        p
        for p in paths
        if not os.path.realpath(p).startswith(base + os.sep) and not (p.endswith((".py", ".pyc")) and p.startswith(own))
    ]


def test_a_repo_stored_outside_the_allowed_roots_is_not_read(tmp_path, settings):
    repo_dir = checkout(tmp_path, "clean")
    RepoFactory(slug="elsewhere", local_path=str(repo_dir))  # a row from before the rule
    repo = Repo.objects.get(slug="elsewhere")
    settings.STATEHUB_REPO_ROOTS = [str(tmp_path / "allowed")]

    with opened_files() as opened:
        report = reconcile_repo(repo=repo, fix=True)

    assert [e.kind for e in report.errors] == ["unreadable_checkout"]
    assert "STATEHUB_REPO_ROOTS" in report.errors[0].message
    assert not [p for p in opened if p.endswith(".md")]
    assert not Workstream.objects.exists()


def test_the_filesystem_root_as_checkout_is_refused(tmp_path):
    RepoFactory(slug="root", local_path="/", workplan_dir="etc")
    repo = Repo.objects.get(slug="root")

    with opened_files() as opened:
        report = reconcile_repo(repo=repo, fix=False)

    assert [e.kind for e in report.errors] == ["unreadable_checkout"]
    assert "STATEHUB_REPO_ROOTS" in report.errors[0].message
    assert not [p for p in opened if p.startswith("/etc")]


def test_a_workplan_dir_climbing_out_of_the_checkout_is_refused(tmp_path):
    repo = register(tmp_path, "clean")
    (tmp_path / "elsewhere" / "notes").mkdir(parents=True)
    (tmp_path / "elsewhere" / "notes" / "SECRET-WP-0001.md").write_text("---\nid: SECRET-WP-0001\ntitle: x\n---\n")
    repo.workplan_dir = "../elsewhere/notes"

    report = reconcile_repo(repo=repo, fix=True)

    assert [e.kind for e in report.errors] == ["unreadable_checkout"]
    assert "'..'" in report.errors[0].message
    assert not Workstream.objects.filter(key="SECRET-WP-0001").exists()


def test_a_symlinked_workplan_dir_leading_out_of_the_checkout_is_refused(tmp_path):
    repo = register(tmp_path, "clean")
    outside = tmp_path / "outside"
    (outside / "plans").mkdir(parents=True)
    (Path(repo.local_path) / "linked").symlink_to(outside / "plans")
    repo.workplan_dir = "linked"

    report = reconcile_repo(repo=repo, fix=False)

    assert [e.kind for e in report.errors] == ["unreadable_checkout"]
    assert "leads out of the checkout" in report.errors[0].message


def test_a_symlink_to_etc_passwd_is_reported_and_never_opened(tmp_path):
    repo = register(tmp_path, "clean")
    workplans = Path(repo.local_path) / "workplans"
    (workplans / "passwd.md").symlink_to("/etc/passwd")
    (workplans / "environ.md").symlink_to("/proc/self/environ")

    with opened_files() as opened:
        report = reconcile_repo(repo=repo, fix=True)

    refused = {e.file: e.message for e in report.errors}
    assert set(refused) == {"workplans/passwd.md", "workplans/environ.md"}
    assert all("leads out of the checkout; not opened" in message for message in refused.values())
    assert all("/etc" not in message and "/proc" not in message for message in refused.values())
    assert _outside(opened, Path(repo.local_path)) == []
    assert Workstream.objects.count() == 3  # the good files are applied


def test_a_symlink_staying_inside_the_checkout_is_read(tmp_path):
    repo = register(tmp_path, "clean")
    workplans = Path(repo.local_path) / "workplans"
    (Path(repo.local_path) / "docs").mkdir()
    (workplans / "CUST-WP-0041-legacy-list.md").rename(Path(repo.local_path) / "docs" / "legacy.md")
    (workplans / "CUST-WP-0041-legacy-list.md").symlink_to("../docs/legacy.md")

    report = reconcile_repo(repo=repo, fix=True)

    assert report.errors == []
    assert Workstream.objects.get(key="CUST-WP-0041").source_path == "workplans/CUST-WP-0041-legacy-list.md"


def test_a_fifo_is_reported_as_not_a_regular_file_without_blocking(tmp_path):
    repo = register(tmp_path, "clean")
    fifo = Path(repo.local_path) / "workplans" / "PIPE-WP-0001.md"
    os.mkfifo(fifo)

    with opened_files() as opened:
        report = reconcile_repo(repo=repo, fix=True)

    assert [(e.file, e.message) for e in report.errors] == [
        ("workplans/PIPE-WP-0001.md", "PIPE-WP-0001.md is not a regular file; not opened")
    ]
    # Opening a FIFO for reading is what would block (until a writer comes): it never happened.
    assert not [path for path in opened if path.endswith(fifo.name)]


def test_an_archived_dir_linked_out_of_the_checkout_is_reported(tmp_path):
    repo = register(tmp_path, "clean")
    archived = Path(repo.local_path) / "workplans" / "archived"
    for path in archived.iterdir():
        path.unlink()
    archived.rmdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "X-WP-0001.md").write_text("---\nid: X-WP-0001\n---\n")
    archived.symlink_to(tmp_path / "other")

    report = reconcile_repo(repo=repo, fix=True)

    assert [(e.file, e.message) for e in report.errors] == [
        ("workplans/archived", "directory leads out of the checkout; not read")
    ]
    assert not Workstream.objects.filter(key="X-WP-0001").exists()


def test_a_file_over_workplan_max_bytes_is_reported_not_parsed(tmp_path, settings, syncer, monkeypatch):
    repo = register(tmp_path, "clean")
    big = Path(repo.local_path) / "workplans" / "BIG-WP-0001.md"
    big.write_text("---\nid: BIG-WP-0001\nnotes:\n" + "  - padding padding padding padding\n" * 300_000 + "---\n")
    size = big.stat().st_size
    assert size > 10_000_000
    parsed = []
    parse = reading.parse_workplan

    def recording_parse(data, *, path):
        parsed.append(path)
        return parse(data, path=path)

    monkeypatch.setattr(reading, "parse_workplan", recording_parse)

    response = syncer.post(f"/repos/{repo.slug}/sync")

    assert response.status_code == 200
    errors = response.json()["errors"]
    assert [(e["file"], e["line"]) for e in errors] == [("workplans/BIG-WP-0001.md", None)]
    # Refused on its size as opened, before a byte of it was read; the other files were parsed.
    assert errors[0]["message"] == f"BIG-WP-0001.md is {size} bytes, over WORKPLAN_MAX_BYTES (1048576); not read"
    assert parsed and "workplans/BIG-WP-0001.md" not in parsed
    assert not Workstream.objects.filter(key="BIG-WP-0001").exists()


def test_an_alias_bomb_is_a_file_error_with_its_line_and_the_sync_answers_200(tmp_path, syncer):
    repo = register(tmp_path, "clean")
    (Path(repo.local_path) / "workplans" / "BOMB-WP-0001.md").write_text(ALIAS_BOMB)

    response = syncer.post(f"/repos/{repo.slug}/sync")

    # Refused at its first anchor (where it stops is held in tests/hub/workplans), the others applied.
    assert response.status_code == 200
    assert [(e["file"], e["line"], e["message"]) for e in response.json()["errors"]] == [
        ("workplans/BOMB-WP-0001.md", 3, "YAML anchors (&name) are not accepted")
    ]
    assert Workstream.objects.count() == 3


def test_bad_keys_in_a_file_are_file_errors_with_their_line(tmp_path):
    repo = register(tmp_path, "clean")
    workplans = Path(repo.local_path) / "workplans"
    (workplans / "SLASH-WP-0001.md").write_text("---\nid: SLASH/WP-0001\n---\n")
    (workplans / "TASK-WP-0001.md").write_text(
        "---\nid: TASK-WP-0001\n---\n# Tasks\n\n## Task T1: Query\n```task\nid: 'TASK-WP-0001?T1'\n```\n"
    )

    report = reconcile_repo(repo=repo, fix=True)

    assert sorted((e.file, e.line, e.message.split(":")[0]) for e in report.errors) == [
        ("workplans/SLASH-WP-0001.md", 2, "workplan id 'SLASH/WP-0001'"),
        ("workplans/TASK-WP-0001.md", 8, "task id 'TASK-WP-0001?T1'"),
    ]
    assert not Workstream.objects.filter(key__in=["SLASH/WP-0001", "TASK-WP-0001"]).exists()
    assert not Task.objects.filter(key__contains="?").exists()


def test_hostile_repos_in_a_sweep_are_reported_and_the_good_one_is_applied(tmp_path, syncer):
    good = register(tmp_path, "clean", slug="good")
    (Path(good.local_path) / "workplans" / "BOMB-WP-0001.md").write_text(ALIAS_BOMB)
    (Path(good.local_path) / "workplans" / "passwd.md").symlink_to("/etc/passwd")
    RepoFactory(slug="root", local_path="/", workplan_dir="etc")

    with opened_files() as opened:
        response = syncer.post("/consistency/sweep", {"max_seconds": 5}, format="json")

    assert response.status_code == 200
    reports = {r["repo"]: r for r in response.json()["repos"]}
    assert [e["kind"] for e in reports["root"]["errors"]] == ["unreadable_checkout"]
    assert sorted(e["file"] for e in reports["good"]["errors"]) == ["workplans/BOMB-WP-0001.md", "workplans/passwd.md"]
    assert not [p for p in opened if p.startswith(("/etc", "/proc"))]
    assert Workstream.objects.filter(repo=good).count() == 3


def test_report_mode_of_a_sweep_reads_no_file_outside_the_roots(tmp_path):
    repo = register(tmp_path, "clean")
    (Path(repo.local_path) / "workplans" / "passwd.md").symlink_to("/etc/passwd")

    with opened_files() as opened:
        report = sweep(fix=False, max_seconds=None)

    assert report.repos[0].errors[0].file == "workplans/passwd.md"
    assert _outside([p for p in opened if p.endswith(".md")], Path(repo.local_path)) == []


def test_a_hard_link_to_a_file_outside_the_checkout_is_reported_and_never_opened(tmp_path):
    repo = register(tmp_path, "clean")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("---\nid: SECRET-WP-0001\ntitle: Secret\n---\n")
    os.link(outside / "secret.md", Path(repo.local_path) / "workplans" / "SECRET-WP-0001.md")

    with opened_files() as opened:
        report = reconcile_repo(repo=repo, fix=True)

    assert [(e.file, e.message) for e in report.errors] == [
        (
            "workplans/SECRET-WP-0001.md",
            "SECRET-WP-0001.md is a hard link (2 names for one file), which may lead out of the checkout; not opened",
        )
    ]
    assert not [path for path in opened if path.endswith("SECRET-WP-0001.md")]
    assert not Workstream.objects.filter(key="SECRET-WP-0001").exists()
    assert Workstream.objects.count() == 3  # the good files are applied


def test_a_hard_link_made_after_the_check_is_refused_on_the_open_file(tmp_path, monkeypatch):
    repo = register(tmp_path, "clean")
    outside = tmp_path / "outside"
    outside.mkdir()
    plan = Path(repo.local_path) / "workplans" / "SWAP-WP-0001.md"
    plan.write_text("---\nid: SWAP-WP-0001\ntitle: Swapped\n---\n")
    real_open = os.open

    def open_after_a_link_appears(path, flags, *args, **kwargs):
        # Between the check of the listed file and its open, someone links it from elsewhere.
        if str(path).endswith(plan.name) and not (outside / "alias.md").exists():
            os.link(plan, outside / "alias.md")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(reading.os, "open", open_after_a_link_appears)
    report = reconcile_repo(repo=repo, fix=True)

    assert [(e.file, e.message) for e in report.errors] == [
        (
            "workplans/SWAP-WP-0001.md",
            "SWAP-WP-0001.md is a hard link (2 names for one file), which may lead out of the checkout; not read",
        )
    ]
    assert not Workstream.objects.filter(key="SWAP-WP-0001").exists()


def test_a_repo_whose_checkout_is_a_root_itself_is_reported_and_reads_nothing(tmp_path, settings):
    other = checkout(tmp_path, "clean")
    settings.STATEHUB_REPO_ROOTS = [str(tmp_path)]
    # A row from before the rule: the root as checkout, its workplan_dir inside another checkout.
    RepoFactory(slug="root-level", local_path=str(tmp_path), workplan_dir="clean/workplans")
    repo = Repo.objects.get(slug="root-level")

    with opened_files() as opened:
        report = reconcile_repo(repo=repo, fix=True)

    assert [e.kind for e in report.errors] == ["unreadable_checkout"]
    assert report.errors[0].message == (
        f"Repo root-level: local_path must be a checkout inside one of STATEHUB_REPO_ROOTS "
        f"({tmp_path.resolve()}), not a root itself."
    )
    assert not [p for p in opened if p.startswith(str(other))]
    assert not Workstream.objects.exists()


def test_a_root_level_repo_in_a_sweep_is_reported_and_the_others_are_applied(tmp_path, settings, syncer):
    good = register(tmp_path, "clean", slug="good")
    settings.STATEHUB_REPO_ROOTS = [str(tmp_path)]
    RepoFactory(slug="root-level", local_path=str(tmp_path), workplan_dir="clean/workplans")

    sweep_response = syncer.post("/consistency/sweep", {"max_seconds": 5}, format="json")
    sync_response = syncer.post("/repos/root-level/sync")

    assert sweep_response.status_code == 200
    reports = {r["repo"]: r for r in sweep_response.json()["repos"]}
    assert [e["kind"] for e in reports["root-level"]["errors"]] == ["unreadable_checkout"]
    assert "not a root itself" in reports["root-level"]["errors"][0]["message"]
    assert reports["good"]["errors"] == []
    assert Workstream.objects.count() == Workstream.objects.filter(repo=good).count() == 3
    assert sync_response.status_code == 409
    assert sync_response.json()["code"] == "checkout_unreadable"
    assert "not a root itself" in sync_response.json()["detail"]
