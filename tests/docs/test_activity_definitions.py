"""The ActivityDefinition drafts in docs/ parse, and name endpoints and commands the hub really has."""

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.urls import resolve

DEFINITIONS = sorted((Path(__file__).resolve().parents[2] / "docs" / "activity-definitions").glob("*.md"))


def front_matter(path: Path) -> dict[str, Any]:
    match = re.match(r"^---\n(.*?)\n---\n", path.read_text(), re.S)
    assert match, f"{path.name} has no YAML front matter"
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def test_both_drafts_are_there():
    ids = {front_matter(path)["id"] for path in DEFINITIONS}
    assert ids == {"the-custodian.state-hub-consistency-sweep", "the-custodian.state-hub-stale-task-cleanup"}


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.stem)
def test_front_matter_carries_what_activity_core_reads(path):
    data = front_matter(path)
    for key in ("id", "name", "type", "version", "enabled", "owner", "status", "trigger", "context", "instruction"):
        assert key in data, key
    assert data["type"] == "activity-definition"
    trigger = data["trigger"]
    assert trigger["type"] == "cron"
    assert trigger["timezone"] == "UTC"
    assert trigger["misfire_policy"] == "skip"
    assert len(trigger["cron_expression"].split()) == 5
    health = data["context"][0]
    assert health["url"].endswith("/health")
    assert resolve(health["url"].replace("${STATE_HUB_URL}", "")).url_name is not None
    assert "skip" in data["rule"]["otherwise"]
    # Gate on what /health really says about serving (the database), not on `status`, which a single
    # dead-letter event turns to "degraded".
    assert "status_code == 200" in data["rule"]["when"]
    assert "body.database == 'ok'" in data["rule"]["when"]
    assert "body.status" not in data["rule"]["when"]


def test_the_sweep_calls_the_alias_activity_core_uses_with_a_time_budget():
    data = front_matter(next(p for p in DEFINITIONS if "sweep" in p.stem))
    assert data["trigger"]["cron_expression"] == "*/15 * * * *"
    instruction = data["instruction"]
    path = instruction["url"].replace("${STATE_HUB_URL}", "")
    assert (instruction["method"], path) == ("POST", "/consistency/sweep/remote-all")
    assert instruction["body"] == {"max_seconds": 300}
    view = resolve(path).func
    assert "post" in {method.lower() for method in view.view_class.http_method_names}  # type: ignore[attr-defined]


def test_the_cleanup_runs_a_command_the_hub_has_with_options_it_accepts():
    data = front_matter(next(p for p in DEFINITIONS if "cleanup" in p.stem))
    assert data["trigger"]["cron_expression"] == "0 3 * * *"
    words = shlex.split(data["instruction"]["command"])
    assert words[1] == "manage.py"
    name, options = words[2], words[3:]
    assert name == "cleanup_stale_tasks"
    command = load_command_class(get_commands()[name], name)
    parsed = command.create_parser("manage.py", name).parse_args(options)
    assert parsed.json is True
