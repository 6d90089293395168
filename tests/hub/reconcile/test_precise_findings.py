"""Findings name the line of the field they are about, carry both values, and appear once with their outcome."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from hub.models import Repo
from hub.reconcile import reconcile_repo
from tests.factories import RepoFactory

pytestmark = pytest.mark.django_db

PATH = "workplans/LINE-WP-0001-lines.md"

# Line numbers matter here: the tests below pin them.
BEFORE = """\
---
id: LINE-WP-0001
type: workplan
title: First title
repo_slug: line-repo
status: active
owner: alice
domain_goal: no-such-goal
priority: 2
---
# LINE-WP-0001 - Lines

## Task T01: First task
```task
id: LINE-WP-0001-T01
status: todo
priority: low
assignee: bob
```

## Task T02: Second task
```task
id: LINE-WP-0001-T02
status: cancel
priority: high
```
"""

AFTER = (
    BEFORE.replace("title: First title", "title: Second title")
    .replace("status: active", "status: blocked")
    .replace("owner: alice", "owner: carol")
    .replace("priority: 2", "priority: 3")
    .replace("## Task T01: First task", "## Task T01: First task, renamed")
    .replace("status: todo", "status: progress")
    .replace("priority: low", "priority: critical")
    .replace("assignee: bob", "assignee: dave")
    .replace("status: cancel", "status: todo")
)

WS = "workstream LINE-WP-0001"
T01 = "task LINE-WP-0001-T01"
EXPECTED_DRIFT = [
    (
        "workstream_field",
        "title",
        4,
        "Second title",
        "First title",
        f'{WS}: title: file "Second title", database "First title"',
    ),
    ("workstream_field", "status", 6, "blocked", "active", f'{WS}: status: file "blocked", database "active"'),
    ("workstream_field", "owner", 7, "carol", "alice", f'{WS}: owner: file "carol", database "alice"'),
    ("workstream_field", "priority", 9, 3, 2, f"{WS}: priority: file 3, database 2"),
    (
        "task_field",
        "title",
        13,
        "First task, renamed",
        "First task",
        f'{T01}: title: file "First task, renamed", database "First task"',
    ),
    ("task_field", "status", 16, "progress", "todo", f'{T01}: status: file "progress", database "todo"'),
    ("task_field", "priority", 17, "critical", "low", f'{T01}: priority: file "critical", database "low"'),
    ("task_field", "assignee", 18, "dave", "bob", f'{T01}: assignee: file "dave", database "bob"'),
]


@pytest.fixture
def repo(tmp_path: Path):
    workplans = tmp_path / "line-repo" / "workplans"
    workplans.mkdir(parents=True)
    (workplans / "LINE-WP-0001-lines.md").write_text(BEFORE)
    RepoFactory(slug="line-repo", local_path=str(tmp_path / "line-repo"))
    repo = Repo.objects.get(slug="line-repo")
    reconcile_repo(repo=repo, fix=True)
    (workplans / "LINE-WP-0001-lines.md").write_text(AFTER)
    return repo


def _command(*args: str) -> str:
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("consistency_check", "--repo", "line-repo", *args, stdout=out)
    return out.getvalue()


def test_each_difference_names_its_fields_line_and_both_values(repo):
    report = reconcile_repo(repo=repo, fix=False)

    assert [(d.kind, d.field, d.line, d.file_value, d.db_value, d.message) for d in report.drift] == EXPECTED_DRIFT
    assert {(d.file, d.outcome) for d in report.drift} == {(PATH, "reported")}
    assert [(c.key, c.field, c.line, c.outcome, c.message) for c in report.conflicts] == [
        (
            "LINE-WP-0001-T02",
            "status",
            24,
            "conflict",
            'task LINE-WP-0001-T02: status: file "todo", database "cancel" (not an allowed transition)',
        )
    ]
    assert [(w.line, w.message) for w in report.warnings] == [(8, "unknown domain_goal 'no-such-goal'; not linked")]


def test_the_text_report_shows_file_line_and_values(repo):
    output = _command()

    for kind, _, line, _, _, message in EXPECTED_DRIFT:
        assert f"  DRIFT [{kind}] {PATH}:{line} {message}\n" in output
    assert f"  CONFLICT [conflict] {PATH}:24 task LINE-WP-0001-T02: status:" in output
    assert f"  WARNING [warning] {PATH}:8 unknown domain_goal" in output


def test_the_json_of_a_fix_lists_each_finding_once_under_its_outcome(repo):
    body = json.loads(_command("--fix", "--json"))

    listed = [(name, item) for name in ("drift", "applied", "conflicts", "warnings") for item in body[name]]
    assert body["drift"] == []
    assert [
        (item["kind"], item["field"], item["line"], item["file_value"], item["database_value"], item["message"])
        for item in body["applied"]
    ] == EXPECTED_DRIFT
    assert {(name, item["outcome"]) for name, item in listed} == {
        ("applied", "applied"),
        ("conflicts", "conflict"),
        ("warnings", "reported"),
    }
    identities = [(item["kind"], item["key"], item["field"]) for _, item in listed]
    assert len(identities) == len(set(identities)) == len(EXPECTED_DRIFT) + 2
    counts = body["counts"]
    assert (counts["drift"], counts["drift_unresolved"], counts["applied"], counts["conflicts"]) == (8, 0, 8, 1)

    text = _command()  # the same finding is now only the conflict (and the warning)
    assert "DRIFT" not in text
    assert text.count(f"{PATH}:24") == 1
