"""The JSON Schema of each subject: generated from the registry, committed in docs/schemas/, met by every service."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from jsonschema import Draft202012Validator

from events.models import OutboxEvent
from events.schemas import render_schema, render_schema_files, subject_schema
from events.subjects import REGISTRY, WORKSTREAM_COMPLETED
from tests.events.contract import envelope_errors
from tests.events.test_lifecycle_subjects import TRANSITIONS

SCHEMAS_DIR = Path(settings.BASE_DIR) / "docs" / "schemas"


def test_the_committed_schema_files_match_the_registry() -> None:
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMAS_DIR.glob("*.json")}
    for subject in REGISTRY.values():
        versioned = SCHEMAS_DIR / subject.name / f"{subject.schema_version}.json"
        if versioned.exists():
            committed[f"{subject.name}/{subject.schema_version}.json"] = versioned.read_text(encoding="utf-8")

    assert committed == render_schema_files(), "run `manage.py event_subjects_doc`"


@pytest.mark.parametrize("subject", list(REGISTRY))
def test_each_schema_is_a_valid_2020_12_schema_of_its_subject(subject: str) -> None:
    schema = subject_schema(REGISTRY[subject])

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["type"] == {"const": subject, "description": "Equals the NATS subject."}
    assert set(schema["properties"]["attributes"]["required"]) == REGISTRY[subject].attribute_names


def test_the_reference_consumer_bundles_the_current_schemas() -> None:
    bundled = Path(settings.BASE_DIR) / "reference_consumer" / "schemas"

    for subject in REGISTRY.values():
        assert (bundled / f"{subject.name}.json").read_text(encoding="utf-8") == render_schema(subject)


def generated_paths(tmp_path: Path) -> list[str]:
    """Every file `event_subjects_doc` writes, in `tmp_path`."""
    return [
        *("--output", str(tmp_path / "subjects.md")),
        *("--schemas-dir", str(tmp_path / "schemas")),
        *("--consumer-schemas-dir", str(tmp_path / "consumer")),
        *("--contract", str(tmp_path / "contract.json")),
        *("--asyncapi", str(tmp_path / "asyncapi.yaml")),
    ]


def test_check_fails_when_a_schema_file_differs_or_has_no_subject(tmp_path: Path) -> None:
    paths = generated_paths(tmp_path)
    schemas = tmp_path / "schemas"
    call_command("event_subjects_doc", *paths)
    call_command("event_subjects_doc", "--check", *paths)

    target = schemas / f"{WORKSTREAM_COMPLETED.name}.json"
    target.write_text(target.read_text().replace('"null"', '"integer"'), encoding="utf-8")
    with pytest.raises(CommandError, match=f"out of date: {target}"):
        call_command("event_subjects_doc", "--check", *paths)

    call_command("event_subjects_doc", *paths)
    (schemas / "org.statehub.repo.renamed.json").write_text("{}", encoding="utf-8")
    with pytest.raises(CommandError, match="no such subject"):
        call_command("event_subjects_doc", "--check", *paths)

    call_command("event_subjects_doc", *paths)
    assert not (schemas / "org.statehub.repo.renamed.json").exists()
    call_command("event_subjects_doc", "--check", *paths)


def test_a_published_schema_version_never_changes_content(tmp_path: Path) -> None:
    paths = generated_paths(tmp_path)
    call_command("event_subjects_doc", *paths)
    published = tmp_path / "schemas" / WORKSTREAM_COMPLETED.name / f"{WORKSTREAM_COMPLETED.schema_version}.json"
    # As if the registry had changed the subject's schema (a reworded meaning) since this version was published.
    published.write_text(published.read_text().replace("workstream title", "the title"), encoding="utf-8")

    for extra in ([], ["--check"]):
        with pytest.raises(CommandError, match=f"bump `schema_revision` of {WORKSTREAM_COMPLETED.name}"):
            call_command("event_subjects_doc", *extra, *paths)


def test_an_older_published_version_is_kept_when_the_generator_runs(tmp_path: Path) -> None:
    paths = generated_paths(tmp_path)
    older = tmp_path / "schemas" / WORKSTREAM_COMPLETED.name / "1.0-old.json"
    older.parent.mkdir(parents=True)
    older.write_text("{}", encoding="utf-8")

    call_command("event_subjects_doc", *paths)
    call_command("event_subjects_doc", "--check", *paths)

    assert older.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("subject", "transition", "_time"), TRANSITIONS, ids=[t[0] for t in TRANSITIONS])
def test_every_service_records_an_envelope_its_schema_accepts(subject: str, transition: Any, _time: str) -> None:
    transition()

    envelope = OutboxEvent.objects.get().envelope
    assert envelope["type"] == subject
    assert envelope_errors(envelope) == []


@pytest.mark.django_db
def test_the_schema_rejects_a_missing_attribute_a_wrong_type_and_an_extra_envelope_key() -> None:
    TRANSITIONS[1][1]()  # a workstream completes
    envelope = OutboxEvent.objects.get().envelope

    missing = copy.deepcopy(envelope)
    del missing["attributes"]["title"]
    wrong_type = copy.deepcopy(envelope)
    wrong_type["attributes"]["tasks"]["open"] = "1"
    not_null = copy.deepcopy(envelope)
    not_null["attributes"]["workstream_id"] = None
    bad_time = copy.deepcopy(envelope)
    bad_time["timestamp"] = "2026-12-03 10:00:00"
    extra_key = {**envelope, "data": {}}

    assert "attributes: 'title' is a required property" in envelope_errors(missing)
    assert envelope_errors(wrong_type) == ["attributes/tasks/open: '1' is not of type 'integer'"]
    assert envelope_errors(not_null) == ["attributes/workstream_id: None is not of type 'string'"]
    assert len(envelope_errors(bad_time)) == 1
    assert len(envelope_errors(extra_key)) == 1


@pytest.mark.django_db
def test_an_attribute_added_later_in_1_x_still_validates() -> None:
    TRANSITIONS[0][1]()  # a repo is registered
    envelope = json.loads(json.dumps(OutboxEvent.objects.get().envelope))
    envelope["attributes"]["default_branch"] = "main"
    envelope["version"] = "1.1"

    assert envelope_errors(envelope) == []
