"""manage.py consistency_check: exit codes, --fix, --json matching the human report, the advisory lock."""

import io
import json
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from hub.models import Workstream
from hub.reconcile import LOCK_KEY
from tests.factories import RepoFactory
from tests.hub.reconcile.support import register, switch_checkout

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("consistency_check", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_exit_1_with_drift_then_0_after_fix(tmp_path):
    register(tmp_path, "clean")
    code, output = _run("--repo", "fixture-repo")
    assert code == 1
    assert "DRIFT [workplan_without_workstream] workplans/CUST-WP-0040-delegate-maintenance.md:2" in output

    code, _ = _run("--repo", "fixture-repo", "--fix")
    assert code == 0
    code, output = _run("--repo", "fixture-repo")
    assert code == 0 and "clean" in output


def test_fix_is_idempotent(tmp_path):
    repo = register(tmp_path, "clean")
    _run("--repo", "fixture-repo", "--fix")
    switch_checkout(repo, tmp_path, "drifted")
    first_code, _ = _run("--repo", "fixture-repo", "--fix")
    second = json.loads(_run("--repo", "fixture-repo", "--fix", "--json")[1])
    assert first_code == 1  # the completed → proposed conflict it cannot fix
    assert second["counts"]["applied"] == 0 and second["drift"] == []
    assert [c["key"] for c in second["conflicts"]] == ["CUST-WP-0030"]


def test_exit_2_when_only_warnings(tmp_path):
    register(tmp_path, "clean", slug="renamed-repo")  # the files say fixture-repo
    _run("--repo", "renamed-repo", "--fix")
    code, output = _run("--repo", "renamed-repo")
    assert code == 2
    assert output.count("WARNING") == 3


def test_malformed_files_give_exit_1_with_file_and_line(tmp_path):
    register(tmp_path, "malformed")
    code, output = _run("--repo", "fixture-repo", "--fix")
    assert code == 1
    assert "UNREADABLE [unreadable_file] workplans/MAL-WP-0002-bad-yaml.md:4 invalid YAML" in output
    assert Workstream.objects.filter(key="MAL-WP-0001").exists()


def test_json_parses_and_matches_the_human_summary(tmp_path):
    repo = register(tmp_path, "clean")
    _run("--repo", "fixture-repo", "--fix")
    switch_checkout(repo, tmp_path, "drifted")
    code_json, raw = _run("--repo", "fixture-repo", "--json")
    code_human, human = _run("--repo", "fixture-repo")
    body = json.loads(raw)
    assert code_json == code_human == body["exit_code"] == 1
    counts = body["counts"]
    assert (
        f"drift found {counts['drift']}, unresolved {counts['drift_unresolved']}, "
        f"conflicts {counts['conflicts']}, unreadable {counts['errors']}, warnings {counts['warnings']}"
    ) in human
    assert human.count("  DRIFT ") == len(body["drift"])
    assert human.count("  CONFLICT ") == len(body["conflicts"])


def test_all_covers_active_repos_and_lists_those_without_checkout(tmp_path):
    register(tmp_path, "clean")
    RepoFactory(slug="remote-only", local_path="")
    RepoFactory(slug="archived-repo", local_path=str(tmp_path / "x"), status="archived")
    code, raw = _run("--all", "--fix", "--json")
    body = json.loads(raw)
    assert code == 0
    assert [r["repo"] for r in body["repos"]] == ["fixture-repo"]
    assert body["skipped"] == [{"repo": "remote-only", "reason": "no local_path"}]
    assert body["not_reached"] == []


def test_unknown_repo_is_a_command_error():
    with pytest.raises(CommandError, match="nope"):
        call_command("consistency_check", "--repo", "nope", stdout=io.StringIO())


def test_repo_or_all_is_required():
    with pytest.raises(CommandError):
        call_command("consistency_check", stdout=io.StringIO())


def test_a_second_fixing_run_stops_with_exit_3_while_the_lock_is_held(tmp_path):
    register(tmp_path, "clean")
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    other = psycopg.connect(**params, autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        with pytest.raises(CommandError) as caught:
            call_command("consistency_check", "--repo", "fixture-repo", "--fix", stdout=io.StringIO())
        assert caught.value.returncode == 3
        assert "running" in str(caught.value)
        # report mode takes no lock and still works
        assert _run("--repo", "fixture-repo")[0] == 1
    finally:
        # Unlocked before hanging up: a closed session's lock is freed by its server process a moment
        # later, and a busy machine can run the next line inside that moment.
        other.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        other.close()
    assert not Workstream.objects.exists()
    assert _run("--repo", "fixture-repo", "--fix")[0] == 0  # the lock was released by the other session


def test_fixture_files_are_untouched_by_the_command(tmp_path):
    repo = register(tmp_path, "clean")
    files = sorted(Path(repo.local_path).rglob("*.md"))
    before = [p.read_bytes() for p in files]
    _run("--repo", "fixture-repo", "--fix")
    assert [p.read_bytes() for p in files] == before
