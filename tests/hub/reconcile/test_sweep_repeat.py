"""A sweep's repeat costs what changed: a constant number of queries, and unchanged files not opened.

Files are skipped by their stamp (device, inode, size, mtime, ctime) only when it is safe
(`hub.reconcile.reading`): a file changed with its size and mtime put back is still read, a file
too young for its stamp to tell versions apart gets none, and the checks on what may be read hold.
"""

import json
import os
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.models import Repo, Task, Workstream
from hub.reconcile import reading, runs, sweep
from tests.factories import RepoFactory
from tests.hub.reconcile.support import opened_files

pytestmark = pytest.mark.django_db

FILES_PER_REPO = 3


def _repos(tmp_path: Path, count: int) -> list[Repo]:
    """`count` repos of FILES_PER_REPO workplans with two tasks each, keys unique across repos."""
    repos = []
    for number in range(count):
        slug = f"repo-{number:03d}"
        folder = tmp_path / slug / "workplans"
        folder.mkdir(parents=True)
        for plan in range(FILES_PER_REPO):
            key = f"R{number:03d}-WP-{plan + 1:04d}"
            tasks = "".join(f"## Task T{t}: Task {t}\n```task\nid: {key}-T{t}\nstatus: todo\n```\n" for t in (1, 2))
            (folder / f"{key}-plan.md").write_text(f"---\nid: {key}\ntitle: Plan {key}\nstatus: active\n---\n{tasks}")
        RepoFactory(slug=slug, local_path=str(tmp_path / slug))
        repos.append(Repo.objects.get(slug=slug))
    return repos


@pytest.fixture
def settled(monkeypatch):
    """Files count as settled as soon as they are written (the tests need not wait two seconds)."""
    monkeypatch.setattr(reading, "STAMP_SETTLE_NS", 0)


def _queries(**kwargs) -> int:
    with CaptureQueriesContext(connection) as captured:
        sweep(max_seconds=None, **kwargs)
    return len(captured)


@pytest.mark.parametrize("fix", [True, False])
def test_an_unchanged_repeat_makes_as_many_queries_for_20_repos_as_for_2_and_opens_no_file(tmp_path, settled, fix):
    repos = _repos(tmp_path, 20)
    first = sweep(fix=True, max_seconds=None)
    assert first.exit_code == 0
    assert Workstream.objects.filter(source_stamp="").count() == 0  # every file stamped with its hash

    few = _queries(repos=Repo.objects.filter(pk__in=[r.pk for r in repos[:2]]), fix=fix)
    with opened_files() as opened:
        many = _queries(repos=Repo.objects.all(), fix=fix)

    assert many == few
    assert not [path for path in opened if path.endswith(".md")]
    report = sweep(fix=fix, max_seconds=None)
    assert report.exit_code == 0
    assert sum(r.files_unchanged for r in report.repos) == sum(r.files for r in report.repos) == 20 * FILES_PER_REPO


def test_the_queries_of_a_repeat_grow_per_batch_not_per_repo(tmp_path, settled, monkeypatch):
    repos = _repos(tmp_path, 12)
    sweep(fix=True, max_seconds=None)
    monkeypatch.setattr(runs, "SWEEP_BATCH_REPOS", 4)

    one_batch = _queries(repos=Repo.objects.filter(pk__in=[r.pk for r in repos[:4]]), fix=True)
    three_batches = _queries(repos=Repo.objects.all(), fix=True)

    # The sweep's own queries (repos, lock) once; each batch's the same number again.
    assert three_batches - one_batch == 2 * (
        one_batch - _queries(repos=Repo.objects.filter(slug="no-such-repo"), fix=True)
    )


def test_a_file_changed_with_its_size_and_mtime_put_back_is_still_read(tmp_path, settled):
    (repo,) = _repos(tmp_path, 1)
    sweep(fix=True, max_seconds=None)
    path = Path(repo.local_path) / "workplans" / "R000-WP-0001-plan.md"
    before = path.stat()
    time.sleep(0.05)  # past the filesystem's timestamp granularity, so the ctime moves
    text = path.read_text()
    path.write_text(text.replace("id: R000-WP-0001-T1\nstatus: todo", "id: R000-WP-0001-T1\nstatus: wait"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    report = sweep(fix=False, max_seconds=None).repos[0]

    assert [(d.key, d.field, d.file_value, d.db_value) for d in report.drift] == [
        ("R000-WP-0001-T1", "status", "wait", "todo")
    ]


def test_a_file_too_young_for_its_stamp_gets_none_and_is_hashed_next_time(tmp_path):
    _repos(tmp_path, 1)
    sweep(fix=True, max_seconds=None)  # written just now: within the settling time
    assert set(Workstream.objects.values_list("source_stamp", flat=True)) == {""}
    assert Workstream.objects.exclude(source_hash="").count() == FILES_PER_REPO

    with opened_files() as opened:
        report = sweep(fix=True, max_seconds=None).repos[0]

    assert report.files_unchanged == FILES_PER_REPO  # by hash
    assert len([p for p in opened if p.endswith(".md")]) == FILES_PER_REPO


def test_a_stamped_file_that_gains_a_hard_link_is_refused_not_skipped(tmp_path, settled):
    (repo,) = _repos(tmp_path, 1)
    sweep(fix=True, max_seconds=None)
    path = Path(repo.local_path) / "workplans" / "R000-WP-0002-plan.md"
    os.link(path, tmp_path / "elsewhere.md")

    report = sweep(fix=False, max_seconds=None).repos[0]

    assert [(e.file, e.kind) for e in report.errors] == [("workplans/R000-WP-0002-plan.md", "unreadable_file")]
    assert "hard link" in report.errors[0].message


def test_a_database_edit_makes_its_file_read_again_despite_its_stamp(tmp_path, settled):
    _repos(tmp_path, 1)
    sweep(fix=True, max_seconds=None)
    Task.objects.filter(key="R000-WP-0003-T2").update(title="Edited in the hub", updated_at=timezone.now())

    report = sweep(fix=True, max_seconds=None).repos[0]

    assert [(a.key, a.field) for a in report.applied] == [("R000-WP-0003-T2", "title")]
    assert Task.objects.get(key="R000-WP-0003-T2").title == "Task 2"


def test_repos_a_budget_leaves_in_a_batch_are_named_and_keep_their_turn(tmp_path, settled, monkeypatch):
    repos = _repos(tmp_path, 5)
    sweep(fix=True, max_seconds=None)
    attempted = {slug: at for slug, at in Repo.objects.values_list("slug", "last_attempted_at") if at is not None}
    assert len(attempted) == 5
    monkeypatch.setattr(runs, "SWEEP_BATCH_REPOS", 2)
    clock = {"now": 0.0}
    original_run = runs.run_repo

    def run_repo_taking_a_second(repo, **kwargs):
        try:
            return original_run(repo, **kwargs)
        finally:
            clock["now"] += 1.0

    monkeypatch.setattr(runs.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(runs, "run_repo", run_repo_taking_a_second)

    report = sweep(fix=True, max_seconds=3)

    # Ordered by last attempt: the first three are run, the rest of the second batch and the third are not.
    order = sorted(repos, key=lambda r: (attempted[r.slug], r.slug))
    assert [r.repo for r in report.repos] == [r.slug for r in order[:3]]
    assert report.not_reached == [r.slug for r in order[3:]]
    assert report.exit_code == 1
    after = {slug: at for slug, at in Repo.objects.values_list("slug", "last_attempted_at") if at is not None}
    assert all(after[r.slug] == attempted[r.slug] for r in order[3:])
    assert all(after[r.slug] > attempted[r.slug] for r in order[:3])


def test_a_sweeps_json_written_repo_by_repo_is_its_whole_report(tmp_path):
    _repos(tmp_path, 3)
    Path(tmp_path / "repo-001" / "workplans" / "broken.md").write_text("---\nid: [\n---\n")
    for report in (sweep(fix=True, max_seconds=None), sweep(repos=Repo.objects.none(), fix=False, max_seconds=None)):
        text = "".join(report.json_lines())
        assert json.loads(text) == json.loads(json.dumps(report.as_dict()))
        assert text == json.dumps(report.as_dict(), indent=2)
