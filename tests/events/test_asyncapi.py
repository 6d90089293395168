"""The AsyncAPI 3.0 document: generated from the registry, committed, served, and accepted by the official parser."""

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from jsonschema import Draft7Validator

from events.asyncapi import (
    PAYLOAD_SCHEMA_FORMAT,
    asyncapi_document,
    headers_schema,
    render_asyncapi_json,
    render_asyncapi_yaml,
)
from events.headers import message_headers
from events.schemas import schema_url, subject_schema
from events.subjects import REGISTRY

ROOT = Path(settings.BASE_DIR)
ASYNCAPI_PATH = ROOT / "docs" / "asyncapi.yaml"
VALIDATOR_DIR = ROOT / "tests" / "asyncapi"
# The keywords whose meaning is the same in JSON Schema draft-07 (what the document's `schemaFormat`
# says) and 2020-12 (what the served schemas declare): a payload may use only these.
SHARED_KEYWORDS = frozenset(
    {
        "$schema",
        "title",
        "description",
        "type",
        "const",
        "enum",
        "format",
        "pattern",
        "minimum",
        "minLength",
        "required",
        "properties",
        "additionalProperties",
    }
)


def _committed_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    return document


def _keywords(schema: dict[str, Any]) -> Iterator[str]:
    for keyword, value in schema.items():
        yield keyword
        if keyword == "properties":
            for subschema in value.values():
                yield from _keywords(subschema)
        elif keyword == "additionalProperties" and isinstance(value, dict):
            yield from _keywords(value)


def test_the_committed_document_matches_the_registry() -> None:
    assert ASYNCAPI_PATH.read_text(encoding="utf-8") == render_asyncapi_yaml(), "run `manage.py event_subjects_doc`"


def test_the_yaml_and_the_json_are_the_same_document_rendered_the_same_every_time() -> None:
    assert yaml.safe_load(render_asyncapi_yaml()) == json.loads(render_asyncapi_json()) == asyncapi_document()
    assert render_asyncapi_json() == render_asyncapi_json()
    assert render_asyncapi_json().endswith("}\n")


def test_check_fails_when_the_asyncapi_document_is_out_of_date(tmp_path: Path) -> None:
    paths = [
        *("--output", str(tmp_path / "subjects.md")),
        *("--schemas-dir", str(tmp_path / "schemas")),
        *("--consumer-schemas-dir", str(tmp_path / "consumer")),
        *("--contract", str(tmp_path / "contract.json")),
        *("--asyncapi", str(tmp_path / "asyncapi.yaml")),
    ]
    call_command("event_subjects_doc", *paths)
    assert (tmp_path / "asyncapi.yaml").read_text(encoding="utf-8") == render_asyncapi_yaml()
    call_command("event_subjects_doc", "--check", *paths)

    (tmp_path / "asyncapi.yaml").write_text(render_asyncapi_yaml().replace("action: send", "action: receive"))
    with pytest.raises(CommandError, match=f"out of date: {tmp_path / 'asyncapi.yaml'}"):
        call_command("event_subjects_doc", "--check", *paths)


def test_the_document_describes_the_stream_and_the_consumer_contract() -> None:
    document = _committed_document()

    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "State Hub lifecycle events"
    assert document["info"]["version"] == "1.0"
    description = document["info"]["description"]
    for promise in ("`ACTIVITY_EVENTS`", "`org.>`", "at-least-once", "`Nats-Msg-Id`", "duplicate window"):
        assert promise in description
    order = "a task's `org.statehub.task.stale` may arrive before its workstream's `org.statehub.workstream.completed`"
    assert order in description
    assert "docs/nats-event-subjects.md" in description and "reference_consumer/" in description
    assert document["defaultContentType"] == "application/json"
    [server] = document["servers"].values()
    assert server["protocol"] == "nats"
    assert "placeholder" in server["description"] and "`ACTIVITY_EVENTS`" in server["description"]


@pytest.mark.parametrize("subject", list(REGISTRY))
def test_every_subject_has_a_channel_an_operation_and_a_message_with_its_served_schema(subject: str) -> None:
    document = _committed_document()
    registration = REGISTRY[subject]
    kind, attribute = registration.aggregate

    channel = document["channels"][subject]
    assert channel["address"] == subject
    assert f"ordered within aggregate `{kind}:<{attribute}>`" in channel["description"].lower()
    assert channel["messages"] == {subject: {"$ref": f"#/components/messages/{subject}"}}
    operation = document["operations"][subject]
    assert operation["action"] == "send"
    assert operation["channel"] == {"$ref": f"#/channels/{subject}"}
    assert operation["bindings"] == {"nats": {"bindingVersion": "0.1.0"}}
    message = document["components"]["messages"][subject]
    assert message["contentType"] == "application/json"
    assert message["payload"] == {"schemaFormat": PAYLOAD_SCHEMA_FORMAT, "schema": subject_schema(registration)}
    assert message["correlationId"]["location"] == "$message.header#/ce-id"
    assert "ce-subject" in message["headers"]["required"]
    assert message["headers"]["properties"]["ce-subject"]["pattern"] == f"^{kind}:"
    assert message["headers"] == headers_schema(registration)


@pytest.mark.parametrize("subject", list(REGISTRY))
def test_each_payload_uses_only_keywords_that_mean_the_same_in_draft_07_and_2020_12(subject: str) -> None:
    schema = subject_schema(REGISTRY[subject])

    Draft7Validator.check_schema(schema)
    assert set(_keywords(schema)) <= SHARED_KEYWORDS


@pytest.mark.parametrize("subject", list(REGISTRY))
def test_the_headers_the_hub_sends_are_exactly_the_ones_the_document_says_are_always_there(subject: str) -> None:
    registration = REGISTRY[subject]
    attributes = {attribute.name: "CUST-WP-0040 ü" for attribute in registration.attributes}
    headers = message_headers(
        subject=subject,
        event_id=str(uuid.uuid4()),
        timestamp="2026-11-26T21:40:07.123Z",
        aggregate=registration.aggregate_key(attributes),
    )
    schema = headers_schema(registration)

    assert sorted(schema["required"]) == sorted(headers)
    assert list(Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER).iter_errors(headers)) == []
    assert re.search(schema["properties"]["ce-dataschema"]["pattern"], schema_url(subject))


def _parser_command() -> list[str]:
    """`node validate.mjs`, or skip (fail under CI) where node or the parser's packages are missing."""
    node = shutil.which("node")
    if node is None:
        problem = "node is not on PATH"
    elif not (VALIDATOR_DIR / "node_modules" / "@asyncapi" / "parser").is_dir():
        problem = "tests/asyncapi/node_modules is missing (run `npm ci --prefix tests/asyncapi`)"
    else:
        return [node, str(VALIDATOR_DIR / "validate.mjs")]
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{problem}: CI must check docs/asyncapi.yaml with the official AsyncAPI parser.")
    pytest.skip(f"{problem}, so the official AsyncAPI parser cannot check docs/asyncapi.yaml here.")


def _parse(path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = subprocess.run([*_parser_command(), str(path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    try:
        output: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"validate.mjs printed no report (exit {result.returncode}): {result.stderr}")
    return result, output


@pytest.fixture(scope="module")
def parsed() -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    return _parse(ASYNCAPI_PATH)


def test_the_official_parser_accepts_the_document_without_errors_or_warnings(
    parsed: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    result, output = parsed

    assert result.returncode == 0, result.stderr
    # Only notes remain, e.g. that AsyncAPI 3.1.0 exists.
    assert [d for d in output["diagnostics"] if d["severity"] in ("error", "warning")] == [], result.stderr


def test_the_parser_reads_each_payload_as_exactly_the_served_schema(
    parsed: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, output = parsed

    assert set(output["messages"]) == set(REGISTRY)
    for subject, message in output["messages"].items():
        assert message["schemaFormat"] == PAYLOAD_SCHEMA_FORMAT
        assert message["payload"] == subject_schema(REGISTRY[subject])
        assert message["headers"] == headers_schema(REGISTRY[subject])


def test_the_parser_check_rejects_a_payload_that_is_not_a_schema(tmp_path: Path) -> None:
    document = asyncapi_document()
    document["components"]["messages"]["org.statehub.repo.registered"]["payload"]["schema"]["type"] = "envelope"
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    result, output = _parse(broken)

    assert result.returncode == 1
    assert any(
        d["severity"] == "error" and d["path"].startswith("components/messages/org.statehub.repo.registered/payload")
        for d in output["diagnostics"]
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "render"),
    [("/events/asyncapi.json", render_asyncapi_json), ("/events/asyncapi.yaml", render_asyncapi_yaml)],
)
def test_the_document_is_served_without_authentication_with_an_etag_and_caching(path: str, render: Any) -> None:
    client = Client()

    response = client.get(path)
    again = client.get(path, HTTP_IF_NONE_MATCH=response["ETag"])

    assert response.status_code == 200
    assert response.content.decode() == render()
    assert response["ETag"] and response["Cache-Control"]
    assert again.status_code == 304
    assert again.content == b""
