"""hub.workplans: reading workplan files in both styles, and refusing malformed ones with file and line."""

from pathlib import Path

import pytest

from hub.workplans import WorkplanError, content_hash, parse_workplan, workplan_files

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "workplans"


def _parse(path: Path):
    return parse_workplan(path.read_bytes(), path=path.name)


def test_each_field_knows_the_line_stating_it_in_task_blocks():
    spec = _parse(FIXTURES / "clean/workplans/CUST-WP-0040-delegate-maintenance.md")

    assert spec.lines == {"key": 2, "title": 4, "repo_slug": 6, "status": 7, "owner": 8, "priority": 9}
    assert spec.line_of("domain_goal") == spec.line == 1  # not in the file: the file's first line
    first, second, _ = spec.tasks
    assert dict(first.lines) == {"title": 18, "key": 20, "status": 21, "priority": 22, "assignee": 23}
    assert (second.line_of("status"), second.line_of("assignee"), second.line_of("order")) == (30, 28, 28)


def test_each_field_knows_the_line_stating_it_in_a_front_matter_list():
    spec = _parse(FIXTURES / "clean/workplans/CUST-WP-0041-legacy-list.md")

    assert spec.lines == {"key": 2, "title": 3, "repo_slug": 4, "status": 5, "owner": 6}
    assert [dict(task.lines) for task in spec.tasks][1] == {
        "key": 11,
        "title": 12,
        "status": 13,
        "priority": 14,
        "assignee": 15,
    }
    # A title from the `# ` heading is stated there.
    untitled = parse_workplan(b"---\nid: X-WP-0001\n---\n\n# X-WP-0001 - From the heading\n", path="x.md")
    assert (untitled.title, untitled.line_of("title")) == ("From the heading", 5)


def test_task_block_style_is_read_with_titles_order_and_mapped_statuses():
    spec = _parse(FIXTURES / "clean/workplans/CUST-WP-0040-delegate-maintenance.md")
    assert (spec.key, spec.title, spec.status, spec.owner, spec.priority) == (
        "CUST-WP-0040",
        "Delegate maintenance automations to activity-core",
        "active",
        "custodian",
        2,
    )
    assert spec.repo_slug == "fixture-repo"
    assert [(t.key, t.title, t.status, t.priority, t.assignee, t.order) for t in spec.tasks] == [
        ("CUST-WP-0040-T01", "Write the delegation protocol", "done", "high", "custodian", 1),
        ("CUST-WP-0040-T02", "Move the cron schedules", "progress", "medium", "", 2),
        ("CUST-WP-0040-T03", "Retire the old scripts", "todo", "low", "ops", 3),
    ]


def test_headings_inside_other_code_blocks_are_not_tasks():
    spec = _parse(FIXTURES / "clean/workplans/CUST-WP-0040-delegate-maintenance.md")
    assert "not a heading" not in {t.title for t in spec.tasks}


def test_front_matter_task_list_style_maps_older_status_words():
    spec = _parse(FIXTURES / "clean/workplans/CUST-WP-0041-legacy-list.md")
    assert spec.repo_slug == "fixture-repo"  # from `repo:`
    assert spec.status == "blocked"
    assert [(t.key, t.title, t.status, t.priority) for t in spec.tasks] == [
        ("CUST-WP-0041-T01", "Inventory the hosts", "done", "medium"),
        ("CUST-WP-0041-T02", "Wait for the vendor", "wait", "critical"),
        ("CUST-WP-0041-T03", "Dropped idea", "cancel", "medium"),
    ]


def test_older_workstream_status_word_is_mapped():
    spec = _parse(FIXTURES / "clean/workplans/archived/2026-04-01-CUST-WP-0030-first-steps.md")
    assert spec.status == "completed"


def test_content_hash_is_sha256_of_the_bytes():
    path = FIXTURES / "clean/workplans/CUST-WP-0041-legacy-list.md"
    assert _parse(path).content_hash == content_hash(path.read_bytes())
    assert len(content_hash(b"x")) == 64


def test_discovery_includes_archived_and_skips_readme():
    names = [p.name for p in workplan_files(FIXTURES / "clean/workplans")]
    assert names == [
        "CUST-WP-0040-delegate-maintenance.md",
        "CUST-WP-0041-legacy-list.md",
        "2026-04-01-CUST-WP-0030-first-steps.md",
    ]


@pytest.mark.parametrize(
    ("name", "line", "fragment"),
    [
        ("MAL-WP-0002-bad-yaml.md", 4, "invalid YAML"),
        ("MAL-WP-0003-missing-id.md", 14, "task without an `id`"),
        ("MAL-WP-0004-unknown-status.md", 16, "unknown task status"),
        ("MAL-WP-0005-duplicate-task.md", 12, "duplicate task id MAL-WP-0005-T01"),
        ("MAL-WP-0006-no-workplan-id.md", 2, "no `id`"),
    ],
)
def test_malformed_file_raises_with_file_and_line(name, line, fragment):
    with pytest.raises(WorkplanError) as caught:
        _parse(FIXTURES / "malformed/workplans" / name)
    assert caught.value.file == name
    assert caught.value.line == line
    assert fragment in caught.value.message


def test_non_utf8_bytes_are_an_error_not_a_crash():
    with pytest.raises(WorkplanError, match="not UTF-8"):
        parse_workplan(b"---\nid: X\n---\n\xff\xfe", path="x.md")


def test_missing_front_matter_is_an_error_on_line_1():
    with pytest.raises(WorkplanError) as caught:
        parse_workplan(b"# just a heading\n", path="x.md")
    assert caught.value.line == 1


def test_task_heading_without_a_block_is_an_error():
    text = (
        b"---\nid: X-WP-1\n---\n\n## Task T1: Lonely heading\n\nno block\n\n## Task T2: Other\n```task\nid: X-1\n```\n"
    )
    with pytest.raises(WorkplanError) as caught:
        parse_workplan(text, path="x.md")
    assert caught.value.line == 5


def test_unknown_task_priority_is_an_error():
    text = b"---\nid: X-WP-1\n---\n## Task T1: A\n```task\nid: X-1\npriority: urgent\n```\n"
    with pytest.raises(WorkplanError, match="unknown priority"):
        parse_workplan(text, path="x.md")


def test_title_falls_back_to_the_first_heading_without_the_key():
    spec = parse_workplan(b"---\nid: X-WP-1\n---\n# X-WP-1 \xe2\x80\x94 Heading title\n", path="x.md")
    assert spec.title == "Heading title"
    assert spec.status == "proposed"
    assert spec.tasks == []


def test_a_nul_character_in_a_value_is_an_error_not_a_database_failure():
    escaped = b'---\nid: X-WP-0001\ntitle: "bad\\0title"\n---\n'
    with pytest.raises(WorkplanError, match="NUL") as excinfo:
        parse_workplan(escaped, path="x.md")
    assert excinfo.value.line == 2
    with pytest.raises(WorkplanError, match="NUL") as excinfo:
        parse_workplan(b"---\nid: X-WP-0001\n---\n\n## Task T1: a\x00b\n", path="x.md")
    assert excinfo.value.line == 5
