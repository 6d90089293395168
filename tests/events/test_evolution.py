"""The evolution guard: within a major version, a published attribute never disappears or changes type."""

import dataclasses
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from events.evolution import (
    CONTRACT_PATH,
    breaking_changes,
    current_major,
    load_contract,
    registry_contract,
    render_contract,
    with_additions,
)
from events.subjects import REGISTRY, STRING, TIMESTAMP, WORKSTREAM_COMPLETED, Attribute, Subject


def changed(subject: Subject, **attributes: Attribute | None) -> dict[str, Subject]:
    """The registry with `subject`'s named attributes replaced (or removed, for None)."""
    kept = []
    for attribute in subject.attributes:
        replacement = attributes.get(attribute.name, attribute)
        if replacement is not None:
            kept.append(replacement)
    return {**REGISTRY, subject.name: dataclasses.replace(subject, attributes=tuple(kept))}


def test_the_registry_keeps_every_attribute_published_in_its_major_version() -> None:
    problems = breaking_changes(load_contract(), registry_contract(), major=current_major())

    assert problems == [], "removing or changing an attribute needs a new major version"


def test_the_committed_record_lists_every_registered_attribute() -> None:
    recorded = load_contract()

    assert CONTRACT_PATH.read_text(encoding="utf-8") == render_contract(
        with_additions(recorded, registry_contract(), major=current_major())
    ), "run `manage.py event_subjects_doc`"


def test_an_attribute_that_disappears_breaks_the_contract() -> None:
    current = registry_contract(changed(WORKSTREAM_COMPLETED, title=None))

    assert breaking_changes(load_contract(), current, major="1") == [
        "org.statehub.workstream.completed: attribute 'title' was published in 1.x and has disappeared."
    ]


@pytest.mark.parametrize(
    "replacement",
    [
        Attribute("completed_at", STRING, "now a plain string"),
        Attribute("completed_at", TIMESTAMP, "now nullable", nullable=True),
    ],
    ids=["type", "nullability"],
)
def test_an_attribute_that_changes_type_or_nullability_breaks_the_contract(replacement: Attribute) -> None:
    current = registry_contract(changed(WORKSTREAM_COMPLETED, completed_at=replacement))

    [problem] = breaking_changes(load_contract(), current, major="1")
    assert problem.startswith("org.statehub.workstream.completed: attribute 'completed_at' changed from")


def test_a_subject_that_disappears_breaks_the_contract() -> None:
    registry = {name: subject for name, subject in REGISTRY.items() if name != WORKSTREAM_COMPLETED.name}

    assert breaking_changes(load_contract(), registry_contract(registry), major="1") == [
        "org.statehub.workstream.completed was published in 1.x and is no longer registered."
    ]


def test_an_added_attribute_is_allowed_and_recorded() -> None:
    added = Attribute("default_branch", STRING, "the repo's default branch", nullable=True)
    subject = REGISTRY["org.statehub.repo.registered"]
    registry = {**REGISTRY, subject.name: dataclasses.replace(subject, attributes=(*subject.attributes, added))}
    current = registry_contract(registry)

    assert breaking_changes(load_contract(), current, major="1") == []
    merged = with_additions(load_contract(), current, major="1")
    assert merged["1"][subject.name]["default_branch"] == {"type": ["string", "null"]}
    assert breaking_changes(merged, registry_contract(), major="1") != []  # and may not disappear again


def test_a_new_major_version_starts_a_fresh_record() -> None:
    current = registry_contract(changed(WORKSTREAM_COMPLETED, title=None))

    assert breaking_changes(load_contract(), current, major="2") == []
    merged = with_additions(load_contract(), current, major="2")
    assert "title" in merged["1"][WORKSTREAM_COMPLETED.name]
    assert "title" not in merged["2"][WORKSTREAM_COMPLETED.name]


def test_the_generator_refuses_a_registry_that_breaks_the_record(tmp_path: Path) -> None:
    contract = tmp_path / "contract.json"
    recorded = load_contract()
    recorded["1"][WORKSTREAM_COMPLETED.name]["retired"] = {"type": "string"}
    contract.write_text(render_contract(recorded), encoding="utf-8")
    paths = [
        *("--output", str(tmp_path / "subjects.md")),
        *("--schemas-dir", str(tmp_path / "schemas")),
        *("--consumer-schemas-dir", str(tmp_path / "consumer")),
        *("--asyncapi", str(tmp_path / "asyncapi.yaml")),
    ]

    with pytest.raises(CommandError, match=r"'retired' was published in 1\.x and has disappeared"):
        call_command("event_subjects_doc", *paths, "--contract", str(contract))
    assert not (tmp_path / "subjects.md").exists()
