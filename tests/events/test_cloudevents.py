"""CloudEvents 1.0 headers (NATS binding, binary mode) on every message, read back with the official SDK."""

import json
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_binary_event

from events.headers import encode_header_value, message_headers
from events.relay import relay_pending_events
from hub import services
from tests.events.contract import repo_registered_envelope

pytestmark = [pytest.mark.django_db, pytest.mark.nats]


def test_the_official_sdk_reads_a_message_from_the_stream_as_the_same_event(
    jetstream: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.STATEHUB_PUBLIC_URL = "https://hub.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        services.repo_register(data={"slug": "state-hub", "name": "State Hub"})

    [message] = jetstream.messages()
    event = from_binary_event(HTTPMessage(headers=message.headers, body=message.data))

    envelope = message.envelope
    assert event.get_specversion() == "1.0"
    assert event.get_id() == envelope["id"] == message.headers["Nats-Msg-Id"]
    assert event.get_type() == envelope["type"] == "org.statehub.repo.registered"
    assert event.get_source() == "/state-hub"
    assert event.get_dataschema() == "https://hub.example.org/events/schemas/org.statehub.repo.registered/1.0.json"
    assert event.get_subject() == "repo:state-hub" == message.headers["ce-subject"]
    assert event.get_datacontenttype() == "application/json"
    time = event.get_time()
    assert time is not None
    assert time.isoformat(timespec="milliseconds").replace("+00:00", "Z") == envelope["timestamp"]
    # The body is the v1.0 envelope itself, unchanged: its data is exactly the envelope.
    assert event.get_data() == envelope == json.loads(message.data)
    assert set(envelope) == {"id", "type", "version", "timestamp", "publisher", "attributes"}


def test_the_relay_sends_the_same_headers_and_the_source_comes_from_the_setting(jetstream: Any, settings: Any) -> None:
    settings.CLOUDEVENTS_SOURCE = "https://hub.example.org/state hub"
    services.repo_register(data={"slug": "state-hub", "name": "State Hub"})  # no on_commit: the relay publishes

    assert relay_pending_events().published == 1

    [message] = jetstream.messages()
    assert message.headers["ce-source"] == "https://hub.example.org/state%20hub"
    event = from_binary_event(HTTPMessage(headers=message.headers, body=message.data))
    assert event.get_source() == "https://hub.example.org/state hub"
    assert event.get_id() == message.envelope["id"]


def test_header_values_are_percent_encoded_as_the_binding_requires() -> None:
    assert encode_header_value("Euro \u20ac \U0001f600") == "Euro%20%E2%82%AC%20%F0%9F%98%80"
    assert encode_header_value('say "100%"') == "say%20%22100%25%22"
    assert encode_header_value("/state-hub") == "/state-hub"


def test_a_message_without_a_timestamp_or_a_registered_subject_has_no_ce_time_or_dataschema() -> None:
    headers = message_headers(subject="org.other.thing", event_id="abc", timestamp="")

    assert headers["ce-id"] == headers["Nats-Msg-Id"] == "abc"
    assert "ce-time" not in headers
    assert "ce-dataschema" not in headers
    envelope = repo_registered_envelope()
    assert "ce-dataschema" in message_headers(
        subject=envelope["type"], event_id=envelope["id"], timestamp=envelope["timestamp"]
    )


def test_ce_subject_names_the_aggregate_percent_encoded() -> None:
    headers = message_headers(
        subject="org.statehub.workstream.completed", event_id="abc", timestamp="", aggregate="workstream:WP 1/é"
    )

    assert headers["ce-subject"] == "workstream:WP%201/%C3%A9"
    assert "ce-subject" not in message_headers(subject="org.other.thing", event_id="abc", timestamp="")
