"""One trace per write, from the door (API, admin, MCP, a command) to the NATS message and the consumer.

Spans go to the SDK's in-memory exporter through a provider of the test's own (`tracing.enable`),
so the process-wide provider is left alone; the consumer test sets that one once per process,
since the reference consumer uses the global API. Messages are read back from a real nats-server.
"""

import asyncio
import datetime as dt
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pythonjsonlogger.json import JsonFormatter
from rest_framework.test import APIClient

from events.models import OutboxEvent
from events.relay import relay_pending_events
from events.replay import published_events, replay_published_events
from hub.mcp.server import _tool
from hub.mcp.tools import resolve_decision
from hub.models import Decision, Workstream
from reference_consumer.consumer import Config, Consumer
from statehub import tracing
from tests.events.conftest import JetStreamProbe, RestartableNats
from tests.factories import DecisionFactory, DomainFactory, TaskFactory, WorkstreamFactory
from tests.hub.mcp.conftest import ensure_agent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.nats]

REPO_REGISTERED = "org.statehub.repo.registered"
DECISION_RESOLVED = "org.statehub.decision.resolved"
TASK_STALE = "org.statehub.task.stale"

# The process-wide provider the reference consumer's spans go to (set once per process).
_GLOBAL_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test: every span to an in-memory exporter, database connections opened traced."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    connections.close_all()  # the next query opens a connection through the instrumented psycopg
    try:
        yield exporter
    finally:
        tracing.disable()
        connections.close_all()


@pytest.fixture(autouse=True)
def _plain_http(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = False


# W3C flags 03: sampled, and a random trace id (Trace Context level 2, which the SDK's ids are).
def hex_trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def hex_span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.span_id, "016x")


def only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    [found] = [span for span in spans if span.name == name]
    return found


def assert_one_trace_to_the_message(
    exporter: InMemorySpanExporter, jetstream: JetStreamProbe, *, root: str, subject: str
) -> tuple[ReadableSpan, dict[str, str]]:
    """The root span, the database spans, the outbox write and the publish share one trace, which the message names."""
    finished = list(exporter.get_finished_spans())
    root_span = only(finished, root)
    assert root_span.parent is None
    trace_id = root_span.context.trace_id if root_span.context else 0
    in_trace = [span for span in finished if span.context is not None and span.context.trace_id == trace_id]
    assert {span.name for span in finished} == {span.name for span in in_trace}, "every span belongs to the write"
    database = [span for span in in_trace if span.kind is SpanKind.CLIENT and "db.system" in (span.attributes or {})]
    assert any("INSERT" in (span.name + str((span.attributes or {}).get("db.statement", ""))) for span in database)
    [message] = [message for message in jetstream.messages() if message.subject == subject]
    traceparent = message.headers["traceparent"]
    # The admin checks a form by running the service in a savepoint it rolls back: a create span of
    # its own, whose row is gone. The message names the one that was committed.
    [create] = [span for span in in_trace if span.name == f"create {subject}" and hex_span_id(span) in traceparent]
    assert create.kind is SpanKind.PRODUCER
    publish = [span for span in in_trace if span.name == f"publish {subject}"]
    assert publish, "the publish is a span of the write's trace"
    assert all(span.kind is SpanKind.PRODUCER for span in publish)
    assert (publish[-1].attributes or {})["messaging.system"] == "nats"
    assert (publish[-1].attributes or {})["messaging.destination.name"] == subject

    assert traceparent == f"00-{hex_trace_id(root_span)}-{hex_span_id(create)}-03"
    row = OutboxEvent.objects.get(id=message.envelope["id"])
    assert (row.traceparent, row.status) == (traceparent, OutboxEvent.Status.PUBLISHED)
    assert (create.attributes or {})["messaging.message.id"] == message.envelope["id"]
    return root_span, message.headers


def superuser() -> User:
    return User.objects.create_superuser(username="boss", password="pw-for-tests-only")


def test_an_api_write_is_one_trace_from_the_request_to_the_message_headers(
    spans: InMemorySpanExporter, jetstream: JetStreamProbe
) -> None:
    DomainFactory.create(slug="custodian")
    api = APIClient()
    api.force_authenticate(superuser())

    spans.clear()  # only what the write does
    response = api.post("/repos/", {"slug": "state-hub", "name": "State Hub", "domain": "custodian"}, format="json")

    assert response.status_code == 201, response.json()
    finished = spans.get_finished_spans()
    [http] = [span for span in finished if span.kind is SpanKind.SERVER]
    root, _ = assert_one_trace_to_the_message(spans, jetstream, root=http.name, subject=REPO_REGISTERED)
    assert (root.attributes or {}).get("http.request.method", (root.attributes or {}).get("http.method")) == "POST"
    # Published right after the commit by the per-event task: a child of the write's context.
    publish = only(list(finished), f"publish {REPO_REGISTERED}")
    create = only(list(finished), f"create {REPO_REGISTERED}")
    assert publish.parent is not None and create.context is not None
    assert publish.parent.span_id == create.context.span_id
    assert (publish.attributes or {})["messaging.nats.stream.sequence"] == 1


def test_an_admin_write_is_one_trace_to_the_message(spans: InMemorySpanExporter, jetstream: JetStreamProbe) -> None:
    decision = DecisionFactory.create(options=["a", "b"])
    client = Client()
    client.force_login(superuser())
    form = {
        "key": decision.key,
        "title": decision.title,
        "question": decision.question,
        "options": "a\nb",
        "status": "resolved",
        "repo": "",
        "workstream": "",
        "rationale": "clear winner",
        "chosen_option": "b",
        "decided_by": "",
    }

    spans.clear()  # only what the write does
    response = client.post(reverse("admin:hub_decision_change", args=[decision.pk]), form)

    assert response.status_code == 302
    [http] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert_one_trace_to_the_message(spans, jetstream, root=http.name, subject=DECISION_RESOLVED)


def test_an_mcp_tool_call_is_one_trace_to_the_message(spans: InMemorySpanExporter, jetstream: JetStreamProbe) -> None:
    ensure_agent()
    decision = DecisionFactory.create(options=["a", "b"])
    tool = _tool(resolve_decision, "mcp-agent")

    async def call() -> None:
        await tool(decision_id=decision.key, rationale="clear winner", chosen_option="a")

    spans.clear()  # only what the write does
    asyncio.run(call())

    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.RESOLVED
    root, _ = assert_one_trace_to_the_message(
        spans, jetstream, root="tools/call resolve_decision", subject=DECISION_RESOLVED
    )
    assert (root.kind, (root.attributes or {})["gen_ai.tool.name"]) == (SpanKind.SERVER, "resolve_decision")


def test_a_management_command_is_one_trace_and_its_relay_links_to_it(
    spans: InMemorySpanExporter, jetstream: JetStreamProbe, capsys: pytest.CaptureFixture[str]
) -> None:
    TaskFactory.create(workstream=WorkstreamFactory.create(status=Workstream.Status.COMPLETED), status="todo")

    spans.clear()  # only what the write does
    tracing.run_command(["manage.py", "cleanup_stale_tasks"])

    finished = list(spans.get_finished_spans())
    root = only(finished, "manage.py cleanup_stale_tasks")
    assert root.parent is None
    [message] = jetstream.messages()
    assert message.subject == TASK_STALE
    # A bulk write has no create span per event: the message carries the command's own context.
    assert message.headers["traceparent"] == f"00-{hex_trace_id(root)}-{hex_span_id(root)}-03"
    publish = only(finished, f"publish {TASK_STALE}")
    # Published by the relay (after the bulk commit): a span linked to the stored context, in whatever
    # trace the relay runs (its Celery task may start one of its own), as the messaging conventions say.
    assert [hex_span_id_of(link.context) for link in publish.links] == [hex_span_id(root)]
    assert any(span.kind is SpanKind.CLIENT and hex_trace_id(span) == hex_trace_id(root) for span in finished)


def hex_span_id_of(context: trace.SpanContext) -> str:
    return format(context.span_id, "016x")


def test_an_event_recorded_while_nats_is_down_goes_out_later_with_the_stored_context(
    spans: InMemorySpanExporter, restartable_nats: RestartableNats, settings: Any
) -> None:
    settings.NATS_CONNECT_TIMEOUT_S = 0.5
    settings.NATS_DOWN_BACKOFF_S = 0.1
    settings.EVENTS_RELAY_INTERVAL_S = 0.5
    DomainFactory.create(slug="custodian")
    api = APIClient()
    api.force_authenticate(superuser())
    restartable_nats.stop()

    response = api.post("/repos/", {"slug": "state-hub", "name": "State Hub", "domain": "custodian"}, format="json")

    assert response.status_code == 201
    row = OutboxEvent.objects.get()
    assert row.status == OutboxEvent.Status.PENDING and row.traceparent
    failed = only(list(spans.get_finished_spans()), f"publish {REPO_REGISTERED}")
    assert failed.status.status_code is StatusCode.ERROR
    write_trace = hex_trace_id(failed)
    spans.clear()

    restartable_nats.start()
    OutboxEvent.objects.update(next_attempt_at=timezone.now())
    assert relay_pending_events().published == 1

    [message] = JetStreamProbe(restartable_nats.url, settings.NATS_STREAM).messages()
    assert message.headers["traceparent"] == row.traceparent
    assert row.traceparent.split("-")[1] == write_trace
    publish = only(list(spans.get_finished_spans()), f"publish {REPO_REGISTERED}")
    # The relay's publish is a trace of its own, linked to the write's.
    assert hex_trace_id(publish) != write_trace
    [link] = publish.links
    assert format(link.context.trace_id, "032x") == write_trace
    assert hex_span_id_of(link.context) == row.traceparent.split("-")[2]


def test_a_replay_sends_the_original_context_and_links_its_publish_to_it(
    spans: InMemorySpanExporter, jetstream: JetStreamProbe
) -> None:
    DomainFactory.create(slug="custodian")
    api = APIClient()
    api.force_authenticate(superuser())
    api.post("/repos/", {"slug": "state-hub", "name": "State Hub", "domain": "custodian"}, format="json")
    row = OutboxEvent.objects.get()
    assert row.status == OutboxEvent.Status.PUBLISHED and row.traceparent
    spans.clear()

    [stored] = published_events(since=row.created_at - dt.timedelta(seconds=1), incarnation=row.stream_created)
    assert stored.message().headers["traceparent"] == row.traceparent
    report = replay_published_events(since=row.created_at - dt.timedelta(seconds=1))

    assert (report.sent, report.errors) == (1, [])
    publish = only(list(spans.get_finished_spans()), f"publish {REPO_REGISTERED}")
    [link] = publish.links
    assert row.traceparent.split("-")[1:3] == [format(link.context.trace_id, "032x"), hex_span_id_of(link.context)]


def test_with_tracing_off_nothing_is_stored_or_sent(jetstream: JetStreamProbe) -> None:
    assert not tracing.active
    DomainFactory.create(slug="custodian")
    api = APIClient()
    api.force_authenticate(superuser())

    api.post("/repos/", {"slug": "state-hub", "name": "State Hub", "domain": "custodian"}, format="json")

    row = OutboxEvent.objects.get()
    assert (row.status, row.traceparent, row.tracestate) == (OutboxEvent.Status.PUBLISHED, None, None)
    [message] = jetstream.messages()
    assert "traceparent" not in message.headers and "tracestate" not in message.headers


def test_the_reference_consumer_continues_the_write_trace(
    spans: InMemorySpanExporter, jetstream: JetStreamProbe, tmp_path: Path
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_GLOBAL_EXPORTER))
    trace.set_tracer_provider(provider)  # once per process; a later call is refused and keeps this one
    _GLOBAL_EXPORTER.clear()
    DomainFactory.create(slug="custodian")
    api = APIClient()
    api.force_authenticate(superuser())
    api.post("/repos/", {"slug": "state-hub", "name": "State Hub", "domain": "custodian"}, format="json")
    row = OutboxEvent.objects.get()
    seen: list[trace.SpanContext] = []

    async def consume() -> None:
        consumer = Consumer(
            Config(nats_url=jetstream.url, hub_url="http://127.0.0.1:9", token="unused", state_path=tmp_path / "s.db"),
            lambda envelope, headers: seen.append(trace.get_current_span().get_span_context()),
        )
        task = asyncio.create_task(consumer.run())
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.05)
        consumer.stop.set()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(consume())

    [handled] = seen
    assert row.traceparent is not None
    assert format(handled.trace_id, "032x") == row.traceparent.split("-")[1]
    [process] = [span for span in _GLOBAL_EXPORTER.get_finished_spans() if span.name == f"process {REPO_REGISTERED}"]
    assert process.kind is SpanKind.CONSUMER
    assert process.parent is not None and hex_span_id_of(process.parent) == row.traceparent.split("-")[2]
    assert handled.span_id == (process.context.span_id if process.context else None)


def test_json_log_records_name_the_trace_the_span_and_the_event(spans: InMemorySpanExporter, settings: Any) -> None:
    config = dict(settings.LOGGING["formatters"]["json"])
    assert config.pop("()") == "pythonjsonlogger.json.JsonFormatter"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(**config))
    handler.addFilter(tracing.TraceIdsFilter())
    logger = logging.getLogger("tests.tracing.json")
    logger.addHandler(handler)
    try:
        with tracing.span("work"):
            current = trace.get_current_span().get_span_context()
            logger.warning("Event %s not published", "e-1", extra={"event_id": "e-1"})
        logger.warning("outside a span")
    finally:
        logger.removeHandler(handler)

    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["trace_id"] == format(current.trace_id, "032x")
    assert inside["span_id"] == format(current.span_id, "016x")
    assert (inside["event_id"], inside["level"], inside["message"]) == ("e-1", "WARNING", "Event e-1 not published")
    assert "trace_id" not in outside


def test_tracing_is_off_without_an_exporter_and_on_with_one(tmp_path: Path) -> None:
    script = "from statehub import tracing; import django; django.setup(); print(tracing.setup())"
    base = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    base.setdefault("DJANGO_SECRET_KEY", "x")
    answers = {}
    for name, extra in {
        "none": {},
        "endpoint": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
        "console": {"OTEL_TRACES_EXPORTER": "console"},
        "disabled": {"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"},
        "exporter none": {"OTEL_TRACES_EXPORTER": "none"},
    }.items():
        result = subprocess.run(
            [sys.executable, "-c", script],
            env={**base, **extra, "DJANGO_SETTINGS_MODULE": "statehub.settings"},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
            check=True,
        )
        answers[name] = result.stdout.strip()
    assert answers == {
        "none": "False",
        "endpoint": "True",
        "console": "True",
        "disabled": "False",
        "exporter none": "False",
    }
