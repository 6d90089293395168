"""hub.reconcile.reporting.SweepReport: a sweep cut short by its budget is never "clean" (exit 1, DESIGN §8)."""

import pytest

from hub.reconcile import Finding, RepoReport, SweepReport, runs, sweep
from tests.hub.reconcile.support import register

pytestmark = pytest.mark.django_db


def test_a_sweep_whose_reached_repos_are_clean_exits_0() -> None:
    report = SweepReport(fix=True, max_seconds=300, repos=[RepoReport(repo="a", fix=True)])

    assert (report.exit_code, report.as_dict()["status"]) == (0, "clean")


def test_repos_not_reached_make_a_sweep_of_clean_repos_exit_1() -> None:
    report = SweepReport(fix=True, max_seconds=300, repos=[RepoReport(repo="a", fix=True)], not_reached=["b"])

    assert (report.exit_code, report.as_dict()["status"]) == (1, "drift")


def test_repos_not_reached_outrank_warnings() -> None:
    warned = RepoReport(repo="a", fix=True)
    warned.warnings.append(Finding(kind="warning", message="odd"))

    assert SweepReport(fix=True, max_seconds=300, repos=[warned]).exit_code == 2
    assert SweepReport(fix=True, max_seconds=300, repos=[warned], not_reached=["b"]).exit_code == 1


def test_a_repo_cut_short_makes_the_sweep_exit_1() -> None:
    cut = RepoReport(repo="a", fix=True, files_not_reached=["workplans/X-WP-0001-x.md"])

    assert SweepReport(fix=True, max_seconds=300, repos=[cut]).exit_code == 1


def test_a_sweep_cut_by_its_budget_names_the_repos_it_did_not_reach_and_exits_1(tmp_path, monkeypatch) -> None:
    register(tmp_path, "clean", slug="fixture-repo")
    register(tmp_path, "closed", slug="closed-repo")
    assert sweep(fix=True, max_seconds=None).exit_code == 0  # both agree with their files
    clock = {"now": 0.0}
    original_run = runs.run_repo

    def run_repo_taking_five_seconds(repo, **kwargs):
        try:
            return original_run(repo, **kwargs)
        finally:
            clock["now"] += 5.0

    monkeypatch.setattr(runs.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(runs, "run_repo", run_repo_taking_five_seconds)

    report = sweep(fix=True, max_seconds=1)

    assert [r.exit_code for r in report.repos] == [0]
    assert len(report.not_reached) == 1 and {report.repos[0].repo, *report.not_reached} == {
        "fixture-repo",
        "closed-repo",
    }
    assert report.exit_code == 1
    assert {"status": "drift", "exit_code": 1}.items() <= report.as_dict().items()


def _findings(kind: str, count: int) -> list[Finding]:
    return [Finding(kind=kind, message=f"{kind} {n}", key=f"K-{n}") for n in range(count)]


def test_a_bounded_repo_report_lists_at_most_20_findings_most_pressing_first_with_whole_counts() -> None:
    report = RepoReport(repo="big", fix=True, files_not_reached=[f"workplans/{n}.md" for n in range(30)])
    report.errors, report.conflicts, report.drift = _findings("error", 5), _findings("conflict", 10), _findings("d", 30)
    report.applied = _findings("applied", 40)

    body = report.as_dict(bounded=True)
    full = report.as_dict()

    assert [len(body[name]) for name in ("errors", "conflicts", "drift", "warnings", "applied")] == [5, 10, 5, 0, 0]
    assert len(body["files_not_reached"]) == 20
    assert (
        body["counts"]
        == full["counts"]
        == {
            "drift": 30,
            "drift_unresolved": 30,
            "conflicts": 10,
            "errors": 5,
            "warnings": 0,
            "applied": 40,
            "files_not_reached": 30,
        }
    )
    assert body["truncated"] is True and body["full_report"] == "manage.py consistency_check --repo big --json"
    assert full["truncated"] is False and "full_report" not in full and len(full["applied"]) == 40


def test_a_bounded_sweep_lists_at_most_100_findings_in_all_and_every_repo_with_its_counts() -> None:
    repos = []
    for n in range(8):
        report = RepoReport(repo=f"r{n}", fix=True)
        report.drift = _findings("drift", 25)
        repos.append(report)
    sweep_report = SweepReport(fix=True, max_seconds=300, repos=repos)

    body = sweep_report.as_dict(bounded=True)

    assert [len(repo["drift"]) for repo in body["repos"]] == [20, 20, 20, 20, 20, 0, 0, 0]
    assert [repo["counts"]["drift"] for repo in body["repos"]] == [25] * 8
    assert body["truncated"] is True and body["full_report"] == "manage.py consistency_check --all --json"
    assert sweep_report.as_dict()["truncated"] is False


def test_a_report_within_the_bounds_is_the_same_bounded_or_not() -> None:
    report = RepoReport(repo="small", fix=False)
    report.drift = _findings("drift", 3)

    assert report.as_dict(bounded=True) == report.as_dict()
    assert report.as_dict()["truncated"] is False
