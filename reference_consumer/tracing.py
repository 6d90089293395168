"""Continuing the hub's trace: the handler runs inside a `process <subject>` span whose parent is the write's.

The hub sends the W3C trace context of the write that recorded an event as the message headers
`traceparent` and `tracestate` (the CloudEvents distributed-tracing extension). When
`opentelemetry-api` is installed, the consumer extracts it and runs the handler in a CONSUMER span
of that trace (OpenTelemetry's messaging conventions), so the handler's own spans (database,
HTTP calls) join the trace of the request that made the change. Without the package, or for a
message without the header, nothing happens: the package is imported only when a message carries
one, so the consumer still needs nothing but nats-py and jsonschema.

The span is recorded only if the process installs an OpenTelemetry SDK (e.g. `opentelemetry-instrument
python -m reference_consumer …`, or your own set-up); with the API alone the handler still sees the
producer's context as its current one, and passes it on.
"""

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def processing_span(*, subject: str, event_id: str, headers: dict[str, str], consumer: str) -> Iterator[None]:
    """Run the body inside a `process <subject>` span continuing the message's trace, when it carries one."""
    if "traceparent" not in headers:
        yield
        return
    try:
        from opentelemetry import propagate, trace
    except ImportError:
        yield
        return
    producer = propagate.extract({key: headers[key] for key in ("traceparent", "tracestate") if key in headers})
    attributes = {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": subject,
        "messaging.message.id": event_id,
        "messaging.consumer.group.name": consumer,
    }
    tracer = trace.get_tracer("reference_consumer")
    with tracer.start_as_current_span(
        f"process {subject}", context=producer, kind=trace.SpanKind.CONSUMER, attributes=attributes
    ):
        yield
