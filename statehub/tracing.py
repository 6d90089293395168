"""OpenTelemetry tracing: one trace per write, from the request (or command, or task) to the NATS message.

Off unless an exporter is configured (`TRACING_ENABLED`, from the standard OTEL_* variables): then
no tracer provider is installed, nothing is instrumented, recording stores no trace context and
publishing sends no trace headers. `setup()` is called by every entry point (wsgi, asgi, manage.py,
the Celery worker, gunicorn's `post_fork`) and does its work once per process tree: the SDK's batch
processor restarts its export thread in a forked child by itself.

On, Django requests, Celery tasks, psycopg statements and Redis commands are spans (the official
instrumentations), `events.record` writes a `create <subject>` span and stores its W3C context
(`traceparent`, `tracestate`) on the outbox row, and each publish is a `publish <subject>` span:
a child of that stored context where the per-event task publishes right after the write, a new
span linked to it where the relay or a replay publishes later (OpenTelemetry's messaging
conventions). The message always carries the stored context, so a consumer continues the write's trace.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger(__name__)

TRACER_NAME = "statehub"
MESSAGING_SYSTEM = "nats"

# True while spans are being recorded in this process: the only thing the hot paths check when off.
active = False
_provider: TracerProvider | None = None


def setup() -> bool:
    """Install the SDK and the instrumentations when an exporter is configured; whether tracing is on."""
    from django.conf import settings

    if active:
        return True
    if not settings.TRACING_ENABLED:
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    # The sampler (OTEL_TRACES_SAMPLER, _ARG) and the batch sizes (OTEL_BSP_*) are read by the SDK.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.TRACING_SERVICE_NAME}))
    exporter: SpanExporter
    if settings.TRACING_EXPORTER == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    enable(provider)
    logger.info("Tracing on: %s exporter, service %s.", settings.TRACING_EXPORTER, settings.TRACING_SERVICE_NAME)
    return True


def enable(provider: TracerProvider) -> None:
    """Record spans to `provider`: instrument Django, Celery, psycopg and Redis, and trace the outbox.

    `setup()` calls it with the process's provider; tests call it with one of their own (and
    `disable()` after), which leaves the process-wide provider alone.
    """
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    global active, _provider
    _provider = provider
    DjangoInstrumentor().instrument(tracer_provider=provider)
    CeleryInstrumentor().instrument(tracer_provider=provider)
    PsycopgInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    active = True


def disable() -> None:
    """Undo `enable()`: no more spans, no trace context stored or sent."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    global active, _provider
    active, _provider = False, None
    for instrumentor in (DjangoInstrumentor(), CeleryInstrumentor(), PsycopgInstrumentor(), RedisInstrumentor()):
        instrumentor.uninstrument()


def tracer() -> trace.Tracer:
    provider = _provider if _provider is not None else trace.get_tracer_provider()
    return provider.get_tracer(TRACER_NAME)


def current_context_headers() -> tuple[str | None, str | None]:
    """The W3C `traceparent` and `tracestate` of the current span (None, None when off or outside a sampled span)."""
    if not active:
        return None, None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent") or None, carrier.get("tracestate") or None


@contextlib.contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, attributes: dict[str, str] | None = None) -> Iterator[None]:
    """A span around the body (a no-op when off): the root of a trace no instrumentation starts (an MCP tool call)."""
    if not active:
        yield
        return
    with tracer().start_as_current_span(name, kind=kind, attributes=attributes):
        yield


@contextlib.contextmanager
def create_span(subject: str, event_id: str) -> Iterator[None]:
    """The `create <subject>` span around writing one event to the outbox: the context the message carries."""
    if not active:
        yield
        return
    attributes = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.type": "create",
        "messaging.operation.name": "create",
        "messaging.destination.name": subject,
        "messaging.message.id": event_id,
    }
    with tracer().start_as_current_span(f"create {subject}", kind=SpanKind.PRODUCER, attributes=attributes):
        yield


class TracedMessage(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def msg_id(self) -> str: ...
    @property
    def traceparent(self) -> str: ...
    @property
    def tracestate(self) -> str: ...


class Outcome(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def error(self) -> str: ...
    @property
    def stream_seq(self) -> int | None: ...


MessageT = TypeVar("MessageT", bound=TracedMessage)
ResultT = TypeVar("ResultT", bound=Outcome)


def traced_publish(
    messages: Sequence[MessageT], send: Callable[[Sequence[MessageT]], list[ResultT]], *, linked: bool
) -> list[ResultT]:
    """`send(messages)` inside one `publish <subject>` span per message that carries a stored context.

    `linked=False` (the per-event task, right after the write): the span is a child of the stored
    context. `linked=True` (the relay, a replay: later, in a trace of their own): a new span under
    the current one, linked to the stored context. Messages without one get no span.
    """
    if not active or not any(message.traceparent for message in messages):
        return send(messages)
    spans: list[trace.Span | None] = []
    for message in messages:
        if not message.traceparent:
            spans.append(None)
            continue
        stored = propagate.extract({"traceparent": message.traceparent, "tracestate": message.tracestate})
        attributes = {
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.type": "send",
            "messaging.operation.name": "publish",
            "messaging.destination.name": message.subject,
            "messaging.message.id": message.msg_id,
        }
        name = f"publish {message.subject}"
        if linked:
            link = Link(trace.get_current_span(stored).get_span_context())
            span = tracer().start_span(name, kind=SpanKind.PRODUCER, attributes=attributes, links=[link])
        else:
            span = tracer().start_span(name, context=stored, kind=SpanKind.PRODUCER, attributes=attributes)
        spans.append(span)
    try:
        results = send(messages)
    except BaseException as exc:
        for open_span in spans:
            if open_span is not None:
                open_span.record_exception(exc)
                open_span.set_status(Status(StatusCode.ERROR, repr(exc)))
                open_span.end()
        raise
    for open_span, result in zip(spans, results, strict=True):
        if open_span is None:
            continue
        if result.ok:
            if result.stream_seq is not None:
                open_span.set_attribute("messaging.nats.stream.sequence", result.stream_seq)
        else:
            open_span.set_status(Status(StatusCode.ERROR, result.error))
        open_span.end()
    return results


class TraceIdsFilter(logging.Filter):
    """Put the current span's `trace_id` and `span_id` (hex, as trace back ends show them) on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if active:
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = format(context.trace_id, "032x")
                record.span_id = format(context.span_id, "016x")
        return True


# Commands that serve for as long as they run: their requests or tool calls are traces of their own.
SERVING_COMMANDS = frozenset({"runserver", "mcp_server", "mcp_agent", "tail_events", "shell", "dbshell"})


def run_command(argv: list[str]) -> None:
    """`manage.py`'s work: with tracing on, a command is one span (`manage.py <command>`), the root of its trace."""
    from django.core.management import execute_from_command_line

    name = argv[1] if len(argv) > 1 else "help"
    if not setup() or name in SERVING_COMMANDS:
        execute_from_command_line(argv)
        return
    with tracer().start_as_current_span(f"manage.py {name}", attributes={"process.command_args": argv[:2]}):
        execute_from_command_line(argv)
