"""Checks of the consumer contract shared by the event tests: schema validation of envelopes."""

import functools
import uuid
from typing import Any

from django.utils import timezone
from jsonschema import Draft202012Validator

from events.envelope import build_envelope
from events.schemas import subject_schema
from events.subjects import REGISTRY, REPO_REGISTERED


@functools.cache
def validator_for(subject: str) -> Draft202012Validator:
    """A validator of the subject's schema that also checks formats (`uuid`)."""
    return Draft202012Validator(subject_schema(REGISTRY[subject]), format_checker=Draft202012Validator.FORMAT_CHECKER)


def envelope_errors(envelope: dict[str, Any]) -> list[str]:
    """Why the envelope does not validate against its subject's schema (empty when it does)."""
    subject = envelope.get("type")
    if subject not in REGISTRY:
        return [f"unknown subject {subject!r}"]
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(envelope)'}: {error.message}"
        for error in validator_for(subject).iter_errors(envelope)
    ]


def assert_valid_envelope(envelope: dict[str, Any]) -> None:
    errors = envelope_errors(envelope)
    assert not errors, f"envelope {envelope.get('id')} breaks its schema: {errors}"


def repo_registered_attributes(slug: str) -> dict[str, Any]:
    """The attributes of a `repo.registered` event of repo `slug`."""
    return {
        "repo_id": uuid.uuid4(),
        "repo_slug": slug,
        "domain_slug": None,
        "remote_url": "",
        "local_path": "",
        "name": slug,
    }


def repo_registered_envelope(slug: str = "state-hub", *, event_id: uuid.UUID | None = None) -> dict[str, Any]:
    """A valid `repo.registered` envelope that no service recorded (for publisher and relay tests)."""
    attributes = repo_registered_attributes(slug)
    return build_envelope(
        subject=REPO_REGISTERED.name,
        attributes=attributes,
        occurred_at=timezone.now(),
        event_id=event_id or uuid.uuid4(),
    )
