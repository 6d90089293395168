"""The sweep's time budget holds between files, and a failing repo never starves the others (DESIGN §8)."""

from pathlib import Path

import pytest

from hub.models import Repo, Workstream
from hub.reconcile import reading, runs, sweep
from tests.factories import RepoFactory
from tests.hub.reconcile.support import register

pytestmark = pytest.mark.django_db


def _add_plans(repo: Repo, count: int) -> None:
    for number in range(1, count + 1):
        key = f"ZZZ-WP-{number:04d}"
        (Path(repo.local_path) / "workplans" / f"{key}-extra.md").write_text(f"---\nid: {key}\ntitle: Extra\n---\n")


def test_the_budget_is_honoured_between_files_of_one_repo(tmp_path, monkeypatch):
    repo = register(tmp_path, "clean")
    _add_plans(repo, 30)
    sweep(fix=True, max_seconds=None)
    repo.refresh_from_db()
    synced_at = repo.last_synced_at
    for path in (Path(repo.local_path) / "workplans").glob("*.md"):
        path.write_text(path.read_text() + "\nEdited.\n")  # every file must be parsed again
    original = reading.parse_workplan
    clock = {"now": 0.0}

    def parse_taking_an_eighth_of_a_second(data, *, path):  # exact in binary: eight make the budget
        clock["now"] += 0.125
        return original(data, path=path)

    monkeypatch.setattr(runs.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(reading, "parse_workplan", parse_taking_an_eighth_of_a_second)

    report = sweep(fix=True, max_seconds=1)

    repo_report = report.repos[0]
    # The budget is asked before each file: eight files spend it, and the 25 others are not reached.
    assert repo_report.files == 8 and len(repo_report.files_not_reached) == 33 - 8
    assert repo_report.exit_code == 1
    assert not Workstream.objects.filter(missing_from_repo_at__isnull=False).exists()  # unread is not gone
    repo.refresh_from_db()
    assert repo.last_synced_at == synced_at  # not a full sync
    assert synced_at is not None and repo.last_attempted_at is not None
    assert repo.last_attempted_at > synced_at


def test_a_failing_repo_does_not_starve_the_others(tmp_path, monkeypatch):
    RepoFactory(slug="aaa-broken", local_path=str(tmp_path / "no-checkout"))
    RepoFactory(slug="aab-crashing", local_path=str(tmp_path / "crashing"))
    register(tmp_path, "clean", slug="bbb")
    register(tmp_path, "closed", slug="ccc")
    clock = {"now": 0.0}
    original_run, original_open = runs.run_repo, runs.open_checkout

    def run_repo_taking_five_seconds(repo, **kwargs):
        try:
            return original_run(repo, **kwargs)
        finally:
            clock["now"] += 5.0

    def open_checkout_crashing(repo):
        if repo.slug == "aab-crashing":
            raise RuntimeError("disk on fire")
        return original_open(repo)

    monkeypatch.setattr(runs.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(runs, "run_repo", run_repo_taking_five_seconds)
    monkeypatch.setattr(runs, "open_checkout", open_checkout_crashing)

    reached = [[r.repo for r in sweep(fix=True, max_seconds=1).repos] for _ in range(5)]

    assert reached == [["aaa-broken"], ["aab-crashing"], ["bbb"], ["ccc"], ["aaa-broken"]]
    assert Repo.objects.filter(last_attempted_at__isnull=True).count() == 0
    assert set(Repo.objects.filter(last_synced_at__isnull=False).values_list("slug", flat=True)) == {"bbb", "ccc"}
