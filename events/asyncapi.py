"""The AsyncAPI 3.0 document of the lifecycle events, generated from the subject registry.

Served at `/events/asyncapi.json` and `/events/asyncapi.yaml` and written to `docs/asyncapi.yaml` by
`manage.py event_subjects_doc`. It describes what the hub sends, not how a deployment is reached:
the server's host is a placeholder and nothing in it comes from settings, so the same registry
always renders the same bytes (the served copy, the committed one and its `ETag` agree).

Each message's payload is the subject's JSON Schema exactly as `/events/schemas/` serves it, in a
Multi Format Schema Object with `schemaFormat: application/schema+json;version=draft-07`. The
schemas declare 2020-12 (`$schema`), but AsyncAPI 3.0 names no 2020-12 format: the official parser
passes an unknown format through unchecked, while draft-07 is the JSON Schema format every AsyncAPI
tool must support, and the parser then validates each payload. That is honest because every keyword
the envelope schemas use means the same in both drafts; `tests/events/test_asyncapi.py` fails when a
schema uses any other.
"""

import functools
import json
from typing import Any

import yaml

from events.headers import CONTENT_TYPE, SPECVERSION
from events.schemas import SCHEMAS_PATH, subject_schema, versioned_schema_filename
from events.subjects import (
    ENVELOPE_VERSION,
    REGISTRY,
    STREAM_SUBJECTS,
    TASK_STALE,
    TIMESTAMP_PATTERN,
    WORKSTREAM_COMPLETED,
    Subject,
)

ASYNCAPI_VERSION = "3.0.0"
PAYLOAD_SCHEMA_FORMAT = "application/schema+json;version=draft-07"
NATS_BINDING_VERSION = "0.1.0"
SERVER_NAME = "jetstream"
# Not a real host: the document describes the contract; each deployment has its own `NATS_URL`.
PLACEHOLDER_HOST = "nats.example.internal:4222"
STREAM = "ACTIVITY_EVENTS"
# W3C Trace Context `traceparent`: version, trace id, parent span id, flags (lowercase hex).
TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
# The headers every message of a registered subject carries; a consumer may rely on each.
ALWAYS_SENT_HEADERS = (
    "Nats-Msg-Id",
    "ce-specversion",
    "ce-id",
    "ce-type",
    "ce-source",
    "ce-time",
    "ce-subject",
    "ce-dataschema",
    "ce-datacontenttype",
    "content-type",
)


def _stream_subjects() -> str:
    return ", ".join(f"`{pattern}`" for pattern in STREAM_SUBJECTS)


def _info_description() -> str:
    major = ENVELOPE_VERSION.split(".")[0]
    paragraphs = [
        "Lifecycle events of the State Hub: one message per state transition ("
        + ", ".join(_title(subject).lower() for subject in REGISTRY.values())
        + ").",
        f"**Stream.** The hub publishes to the JetStream stream `{STREAM}` (setting `NATS_STREAM`), which captures"
        f" the subjects {_stream_subjects()}. Each subject below is one channel.",
        "**Delivery is at-least-once.** A message may arrive more than once (a relay retrying after a lost"
        " acknowledgement, a replay). Dedupe by the envelope `id`, which is also the `Nats-Msg-Id` and `ce-id`"
        " headers: JetStream itself drops a re-publish with the same id inside the stream's duplicate window"
        " (setting `NATS_STREAM_DUPLICATE_WINDOW_S`), but not after it.",
        "**Order holds only within an aggregate.** Events of one aggregate (the `ce-subject` header, e.g."
        " `workstream:CUST-WP-0040`) reach the stream in the order their changes were committed. Across"
        " aggregates there is no order, not even between related ones: a task's"
        f" `{TASK_STALE.name}` may arrive before its workstream's `{WORKSTREAM_COMPLETED.name}`.",
        f"**Versions.** The envelope's `version` is `<major>.<minor>`; this document describes major {major}."
        f" Within {major}.x the envelope's keys never change and a subject only gains attributes: none is renamed,"
        " removed, or changes type or nullability. Accept any version with your major and ignore attributes you"
        " do not know. Each subject's schema has its own version, named by the `ce-dataschema` URL"
        " (`/events/schemas/<subject>/<schema version>.json`), whose content never changes. `info.version` is"
        " the envelope version.",
        "More: `docs/nats-event-subjects.md` (subjects, headers, replay after a lost consumer, how a subject"
        " evolves) and the reference consumer in `reference_consumer/` (durable pull, explicit ack, bundled"
        " schemas, dedupe by id).",
    ]
    return "\n\n".join(paragraphs)


def _title(subject: Subject) -> str:
    """`Domain goal activated` for `org.statehub.domain.goal.activated`: the words after the producer."""
    words = subject.name.split(".")[2:]
    return " ".join(words).capitalize()


def _aggregate(subject: Subject) -> str:
    kind, attribute = subject.aggregate
    return f"`{kind}:<{attribute}>`"


def _escape_pattern(text: str) -> str:
    # Subjects and versions hold letters, digits, `-`, `_` and `.`: only the dot is special in a pattern.
    return text.replace(".", r"\.")


def headers_schema(subject: Subject) -> dict[str, Any]:
    """The JSON Schema of the NATS headers of `subject`'s messages (CloudEvents 1.0, NATS protocol binding)."""
    kind, attribute = subject.aggregate
    dataschema_path = SCHEMAS_PATH + versioned_schema_filename(subject.name, subject.schema_version)
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0 attributes as NATS headers (binary content mode), beside the unchanged envelope"
            " body. Values are percent-encoded as the binding requires. Every required header is always sent;"
            " `traceparent` and `tracestate` when the write that recorded the event was traced; other headers"
            " may be added."
        ),
        "required": list(ALWAYS_SENT_HEADERS),
        "properties": {
            "Nats-Msg-Id": {
                "type": "string",
                "format": "uuid",
                "description": "The envelope `id`: JetStream drops a re-publish inside its duplicate window.",
            },
            "ce-specversion": {"const": SPECVERSION},
            "ce-id": {
                "type": "string",
                "format": "uuid",
                "description": "The envelope `id` (= `Nats-Msg-Id`): dedupe by it.",
            },
            "ce-type": {"const": subject.name, "description": "The subject (= envelope `type`)."},
            "ce-source": {
                "type": "string",
                "format": "uri-reference",
                "minLength": 1,
                "description": "Setting `CLOUDEVENTS_SOURCE` (default `/state-hub`).",
            },
            "ce-time": {
                "type": "string",
                "format": "date-time",
                "pattern": TIMESTAMP_PATTERN,
                "description": "The envelope `timestamp`: the moment of the state change (UTC, milliseconds, `Z`).",
            },
            "ce-subject": {
                "type": "string",
                "pattern": f"^{kind}:",
                "description": (
                    f"The aggregate key `{kind}:<{attribute}>` (the value percent-encoded): events with the same"
                    " key arrive in commit order; route or shard by it."
                ),
            },
            "ce-dataschema": {
                "type": "string",
                "format": "uri",
                "pattern": _escape_pattern(dataschema_path) + "$",
                "description": (
                    "Absolute URL of this subject's versioned JSON Schema (setting `STATEHUB_PUBLIC_URL` +"
                    f" `{dataschema_path}`); its content never changes."
                ),
            },
            "ce-datacontenttype": {"const": CONTENT_TYPE},
            "content-type": {"const": CONTENT_TYPE, "description": "The same media type, for HTTP-style readers."},
            "traceparent": {
                "type": "string",
                "pattern": TRACEPARENT_PATTERN,
                "description": (
                    "W3C Trace Context of the write that recorded the event (CloudEvents distributed-tracing"
                    " extension), sent only when the hub traced it; a replayed copy keeps the original. Continue"
                    " the trace from it: the consumer's processing span joins the write's trace."
                ),
            },
            "tracestate": {
                "type": "string",
                "description": "W3C `tracestate` that goes with `traceparent`, when the write had one.",
            },
        },
    }


def _channel(subject: Subject) -> dict[str, Any]:
    return {
        "address": subject.name,
        "title": _title(subject),
        "description": (
            f"When: {subject.when} Recorded by: {subject.recorded_by}. Ordered within aggregate {_aggregate(subject)}."
        ),
        "messages": {subject.name: {"$ref": f"#/components/messages/{subject.name}"}},
    }


def _operation(subject: Subject) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{subject.name}"},
        "title": f"Publish {_title(subject).lower()}",
        "summary": subject.when,
        "description": (
            f"The hub sends one message when this happens, after the change commits; {subject.recorded_by} records it."
        ),
        "messages": [{"$ref": f"#/channels/{subject.name}/messages/{subject.name}"}],
        "bindings": {"nats": {"bindingVersion": NATS_BINDING_VERSION}},
    }


def _message(subject: Subject) -> dict[str, Any]:
    return {
        "name": subject.name,
        "title": _title(subject),
        "summary": subject.when,
        "description": (
            f"The v{ENVELOPE_VERSION.split('.')[0]}.x envelope with this subject's attributes (schema version"
            f" {subject.schema_version}). Ordered within aggregate {_aggregate(subject)} (`ce-subject`)."
        ),
        "contentType": CONTENT_TYPE,
        "headers": headers_schema(subject),
        "payload": {"schemaFormat": PAYLOAD_SCHEMA_FORMAT, "schema": subject_schema(subject)},
        "correlationId": {
            "description": "The event id (= envelope `id` = `Nats-Msg-Id`).",
            "location": "$message.header#/ce-id",
        },
        "bindings": {"nats": {}},
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every registered subject: the hub sends each on its own channel."""
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "State Hub lifecycle events",
            "version": ENVELOPE_VERSION,
            "description": _info_description(),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            SERVER_NAME: {
                "host": PLACEHOLDER_HOST,
                "protocol": "nats",
                "title": "NATS with JetStream",
                "description": (
                    f"A placeholder host: use your deployment's `NATS_URL`. The hub publishes to the JetStream"
                    f" stream `{STREAM}` (setting `NATS_STREAM`), subjects {_stream_subjects()}."
                ),
            }
        },
        "channels": {subject.name: _channel(subject) for subject in REGISTRY.values()},
        "operations": {subject.name: _operation(subject) for subject in REGISTRY.values()},
        "components": {"messages": {subject.name: _message(subject) for subject in REGISTRY.values()}},
    }


@functools.cache
def render_asyncapi_yaml() -> str:
    """The text of `docs/asyncapi.yaml` (and `/events/asyncapi.yaml`): the same registry gives the same bytes.

    Kept once rendered (tens of milliseconds of YAML): nothing in it changes while the process runs.
    """
    return yaml.safe_dump(asyncapi_document(), sort_keys=False, allow_unicode=True)


@functools.cache
def render_asyncapi_json() -> str:
    """The text of `/events/asyncapi.json`: indented JSON with a final newline."""
    return json.dumps(asyncapi_document(), indent=2, ensure_ascii=False) + "\n"
