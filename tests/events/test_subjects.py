"""The subject registry is the single source of the contract: the doc and every recorded event follow it."""

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

import events
from events.errors import EnvelopeError
from events.models import OutboxEvent
from events.subjects import REGISTRY, REPO_REGISTERED, render_subjects_doc
from tests.events.test_lifecycle_subjects import TRANSITIONS

DOC = Path(settings.BASE_DIR) / "docs" / "nats-event-subjects.md"


def test_the_committed_doc_matches_the_registry() -> None:
    assert DOC.read_text(encoding="utf-8") == render_subjects_doc(), "run `manage.py event_subjects_doc`"


def test_the_doc_names_every_subject_and_attribute() -> None:
    text = render_subjects_doc()
    for subject in REGISTRY.values():
        assert f"## `{subject.name}`" in text
        for attribute in subject.attributes:
            assert f"| `{attribute.name}` | {attribute.type_label} |" in text


def test_check_fails_when_the_doc_is_out_of_date(tmp_path: Path) -> None:
    stale = tmp_path / "subjects.md"
    contract = [
        *("--contract", str(tmp_path / "contract.json")),
        *("--schemas-dir", str(tmp_path / "schemas")),
        *("--consumer-schemas-dir", str(tmp_path / "consumer")),
        *("--asyncapi", str(tmp_path / "asyncapi.yaml")),
    ]
    stale.write_text(render_subjects_doc().replace("repo_slug", "repo_name"), encoding="utf-8")

    with pytest.raises(CommandError, match="out of date"):
        call_command("event_subjects_doc", "--check", "--output", str(stale), *contract)

    call_command("event_subjects_doc", "--output", str(stale), *contract)
    call_command("event_subjects_doc", "--check", "--output", str(stale), *contract)


def test_registry_holds_exactly_the_five_contract_subjects() -> None:
    assert set(REGISTRY) == {
        "org.statehub.repo.registered",
        "org.statehub.workstream.completed",
        "org.statehub.decision.resolved",
        "org.statehub.domain.goal.activated",
        "org.statehub.task.stale",
    }
    assert REPO_REGISTERED.attribute_names == {
        "repo_id",
        "repo_slug",
        "domain_slug",
        "remote_url",
        "local_path",
        "name",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("subject", "transition", "_time"), TRANSITIONS, ids=[t[0] for t in TRANSITIONS])
def test_every_service_records_exactly_its_registered_attributes(subject: str, transition: Any, _time: str) -> None:
    transition()

    row = OutboxEvent.objects.get()
    assert row.subject == subject
    assert set(row.envelope["attributes"]) == REGISTRY[subject].attribute_names


@pytest.mark.django_db
def test_record_refuses_attributes_that_differ_from_the_registration() -> None:
    attributes = dict.fromkeys(REPO_REGISTERED.attribute_names)
    with pytest.raises(EnvelopeError, match="missing"):
        events.record(REPO_REGISTERED.name, {k: v for k, v in attributes.items() if k != "name"})
    with pytest.raises(EnvelopeError, match="unexpected"):
        events.record(REPO_REGISTERED.name, {**attributes, "extra": 1})
    with pytest.raises(EnvelopeError, match="Unknown event subject"):
        events.record("org.statehub.repo.renamed", attributes)
    with pytest.raises(EnvelopeError, match="not JSON-serialisable"):
        events.record(REPO_REGISTERED.name, {**attributes, "name": object()})
    assert not OutboxEvent.objects.exists()
