"""JSON Schemas (2020-12) of the event envelopes, one per subject, generated from the registry.

The same documents are served at `/events/schemas/{subject}.json` and written to `docs/schemas/`
by `manage.py event_subjects_doc`, so a consumer can validate without reading the hub's code.
The envelope's keys are fixed (`additionalProperties: false`); `attributes` admits keys it does
not list, because attributes may be added within a major version and a consumer's copy of the
schema must keep accepting newer events.
"""

import json
from typing import Any

from django.conf import settings

from events.subjects import ENVELOPE_VERSION, PUBLISHER, REGISTRY, TIMESTAMP_PATTERN, Attribute, Subject

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS_PATH = "/events/schemas/"
ENVELOPE_KEYS = ("id", "type", "version", "timestamp", "publisher", "attributes")


def schema_filename(subject_name: str) -> str:
    """`org.statehub.repo.registered.json`: the file name in `docs/schemas/` and the last part of its URL."""
    return f"{subject_name}.json"


def schema_url(subject_name: str) -> str:
    """The absolute URL a consumer fetches the subject's schema from (`ce-dataschema`)."""
    return f"{settings.STATEHUB_PUBLIC_URL}{SCHEMAS_PATH}{schema_filename(subject_name)}"


def attribute_schema(attribute: Attribute) -> dict[str, Any]:
    """The JSON Schema of one attribute's values: its type, and `null` when it may be absent."""
    schema = dict(attribute.type.schema)
    if attribute.nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def subject_schema(subject: Subject) -> dict[str, Any]:
    """The envelope of `subject` as a JSON Schema document."""
    major = ENVELOPE_VERSION.split(".")[0]
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": subject.name,
        "description": f"{subject.when} Envelope v{major}.x of the State Hub's lifecycle events.",
        "type": "object",
        "required": list(ENVELOPE_KEYS),
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "Event id; also `Nats-Msg-Id` and `ce-id`."},
            "type": {"const": subject.name, "description": "Equals the NATS subject."},
            "version": {"type": "string", "pattern": rf"^{major}\.[0-9]+$"},
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "pattern": TIMESTAMP_PATTERN,
                "description": "The moment of the state change (UTC, milliseconds, `Z`).",
            },
            "publisher": {"const": PUBLISHER},
            "attributes": {
                "type": "object",
                "required": [attribute.name for attribute in subject.attributes],
                "additionalProperties": True,
                "properties": {
                    attribute.name: {**attribute_schema(attribute), "description": attribute.meaning}
                    for attribute in subject.attributes
                },
            },
        },
    }


def render_schema(subject: Subject) -> str:
    """The text of the subject's schema file: indented JSON with a final newline."""
    return json.dumps(subject_schema(subject), indent=2, ensure_ascii=False) + "\n"


def render_schema_files() -> dict[str, str]:
    """Every schema file of `docs/schemas/`, by file name."""
    return {schema_filename(subject.name): render_schema(subject) for subject in REGISTRY.values()}
