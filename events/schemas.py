"""JSON Schemas (2020-12) of the event envelopes, one per subject, generated from the registry.

The same documents are served at `/events/schemas/{subject}.json` (the current schema) and
`/events/schemas/{subject}/{version}.json` (one published version, never changed: `ce-dataschema`
names it) and written to `docs/schemas/` by `manage.py event_subjects_doc`, so a consumer can
validate without reading the hub's code. Every version ever published stays in
`docs/schemas/{subject}/{version}.json`: the hub serves older versions from there.
The envelope's keys are fixed (`additionalProperties: false`); `attributes` admits keys it does
not list, because attributes may be added within a major version and a consumer's copy of the
schema must keep accepting newer events.
"""

import json
import re
from pathlib import Path
from typing import Any

from django.conf import settings

from events.subjects import ENVELOPE_VERSION, PUBLISHER, REGISTRY, TIMESTAMP_PATTERN, Attribute, Subject

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS_PATH = "/events/schemas/"
ENVELOPE_KEYS = ("id", "type", "version", "timestamp", "publisher", "attributes")
SCHEMAS_DIR = Path(settings.BASE_DIR) / "docs" / "schemas"
# What a subject and a schema version look like in a URL: anything else names no schema.
SUBJECT_NAME = re.compile(r"^[a-z0-9]+(\.[a-z0-9_-]+)+$")
SCHEMA_VERSION = re.compile(r"^[0-9]{1,4}\.[0-9]{1,4}$")


def schema_filename(subject_name: str) -> str:
    """`org.statehub.repo.registered.json`: the current schema's file name in `docs/schemas/` and URL."""
    return f"{subject_name}.json"


def versioned_schema_filename(subject_name: str, version: str) -> str:
    """`org.statehub.repo.registered/1.0.json`: one published version's path below `docs/schemas/` and its URL."""
    return f"{subject_name}/{version}.json"


def schema_url(subject_name: str) -> str:
    """The absolute, versioned URL of the subject's current schema (`ce-dataschema`); it never changes content."""
    path = versioned_schema_filename(subject_name, REGISTRY[subject_name].schema_version)
    return f"{settings.STATEHUB_PUBLIC_URL}{SCHEMAS_PATH}{path}"


def published_schema(subject_name: str, version: str, schemas_dir: Path | None = None) -> str | None:
    """The text of a published schema version: the registry's for the current one, else the archived file."""
    subject = REGISTRY.get(subject_name)
    if subject is not None and version == subject.schema_version:
        return render_schema(subject)
    if not (SUBJECT_NAME.match(subject_name) and SCHEMA_VERSION.match(version)):
        return None
    path = (schemas_dir or SCHEMAS_DIR) / versioned_schema_filename(subject_name, version)
    return path.read_text(encoding="utf-8") if path.is_file() else None


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
    """The schema files of `docs/schemas/` for the registry as it is: each current schema and its versioned copy."""
    files = {schema_filename(subject.name): render_schema(subject) for subject in REGISTRY.values()}
    files |= {
        versioned_schema_filename(subject.name, subject.schema_version): render_schema(subject)
        for subject in REGISTRY.values()
    }
    return files


def changed_published_versions(schemas_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Versioned schemas whose published file differs from what the registry renders for that version.

    A published version is immutable (consumers cache it forever): a registry change that alters a
    subject's schema must bump the subject's `schema_revision` instead.
    """
    problems = []
    for subject in REGISTRY.values():
        path = schemas_dir / versioned_schema_filename(subject.name, subject.schema_version)
        if path.is_file() and path.read_text(encoding="utf-8") != render_schema(subject):
            problems.append(
                f"{subject.name}: schema version {subject.schema_version} was published with other content; "
                f"bump `schema_revision` of {subject.name} in events/subjects.py."
            )
    return problems
