"""docs/workplans.md: every workplan example parses as the page says, with the hub's own parser."""

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.models import Task, Workstream
from hub.transitions import rules_for
from hub.workplans import MAX_YAML_NODES, WorkplanError, parse_workplan

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "workplans.md"

# An example: the marker naming its path, the file in a ````markdown fence, then prose, then the
# first fenced block after it: ```json (what it yields) or ```text (the error it is refused with).
EXAMPLE = re.compile(
    r"<!-- workplan-example: (?P<path>\S+) -->\n"
    r"(?P<fence>`{4,})markdown\n(?P<file>.*?\n)(?P=fence)\n"
    r"(?:(?!<!--|`{3})[^\n]*\n)*?"
    r"```(?P<kind>json|text)\n(?P<expected>.*?)\n```\n",
    re.S,
)


def examples() -> list[dict[str, str]]:
    return [match.groupdict() for match in EXAMPLE.finditer(PAGE.read_text())]


def parsed_as_the_page_writes_it(data: bytes, path: str) -> dict[str, Any]:
    spec = parse_workplan(data, path=path)
    shown = dataclasses.asdict(spec)
    for name in ("path", "content_hash", "line", "lines"):
        del shown[name]
    shown["tasks"] = [
        {name: value for name, value in task.items() if name not in ("line", "lines")} for task in shown["tasks"]
    ]
    return shown


def test_every_workplan_shown_on_the_page_is_a_checked_example() -> None:
    text = PAGE.read_text()
    fenced_workplans = re.findall(r"^`{4,}markdown\n---\n", text, re.M)
    found = examples()

    assert len(found) == len(fenced_workplans) == text.count("<!-- workplan-example:")
    assert {example["kind"] for example in found} == {"json", "text"}


@pytest.mark.parametrize("example", [e for e in examples() if e["kind"] == "json"], ids=lambda e: e["path"])
def test_an_example_yields_what_the_page_says(example: dict[str, str]) -> None:
    expected = json.loads(example["expected"])

    assert parsed_as_the_page_writes_it(example["file"].encode(), example["path"]) == expected


@pytest.mark.parametrize("example", [e for e in examples() if e["kind"] == "text"], ids=lambda e: e["path"])
def test_a_refused_example_is_refused_with_the_pages_message(example: dict[str, str]) -> None:
    with pytest.raises(WorkplanError) as refused:
        parse_workplan(example["file"].encode(), path=example["path"])

    assert str(refused.value) == example["expected"]


def test_the_status_table_is_the_transition_tables_words() -> None:
    text = PAGE.read_text()
    for name, model in (("workstream", Workstream), ("task", Task)):
        rules = rules_for(model)
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} | "))
        _, _, statuses, older, _ = row.split("|")
        assert re.findall(r"`([a-z_]+)`", statuses) == rules.statuses
        assert re.findall(r"`([a-z_]+)` → `([a-z_]+)`", older) == [
            (word, str(status)) for word, status in rules.older_words.items()
        ]


def test_the_limits_are_the_codes() -> None:
    text = PAGE.read_text()

    assert f"at most {MAX_YAML_NODES:,} YAML" in text
    assert "`WORKPLAN_MAX_BYTES` (default 1 MiB, 1,048,576 bytes)" in text
    assert "STATEHUB_REPO_ROOTS" in text


def test_the_readme_links_the_page_where_it_mentions_workplans() -> None:
    readme = (ROOT / "README.md").read_text()

    assert "(docs/workplans.md)" in readme
