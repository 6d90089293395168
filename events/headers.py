"""The headers of every event message: `Nats-Msg-Id` and CloudEvents 1.0 (NATS protocol binding, binary mode).

The body stays the v1.0 envelope; the headers let a CloudEvents-aware consumer route and validate
without parsing it. `ce-id` is the envelope id (= `Nats-Msg-Id`), `ce-type` the subject,
`ce-subject` the aggregate the event belongs to (e.g. `workstream:CUST-WP-0040`, the key the
outbox orders by), so a consumer filters, partitions or shards by aggregate; `ce-time` the
envelope timestamp, `ce-source` the `CLOUDEVENTS_SOURCE` setting, and `ce-dataschema` the
absolute URL of the subject's JSON Schema: CloudEvents types `dataschema` as an absolute URI, and a
consumer reading from NATS has no request to resolve a relative one against. The media type is
sent both as the binding's `ce-datacontenttype` and as `content-type`, which HTTP-style readers
(the official SDKs' binary-mode parsers) take for it. Values are percent-encoded as the binding
requires; the per-subject part is computed once.

When the write that recorded the event was traced, the message also carries its W3C trace context
as `traceparent` and `tracestate`: the CloudEvents distributed-tracing extension, under the names
the NATS binding gives it (W3C values, sent as they are), so a consumer continues that trace.

`header_block` is the same headers already encoded as the NATS header section (the bytes nats-py
writes for that dict, in the same order), so the publisher does not encode nine headers per
message on the loop that every drain thread shares.
"""

import functools
import re
from urllib.parse import quote

from django.conf import settings

from events.schemas import schema_url
from events.subjects import REGISTRY

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
# Printable ASCII except space, double quote and percent stay as they are; everything else is %XX.
_UNESCAPED = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in ' "%')
_NEEDS_ESCAPE = re.compile(r'[^\x21-\x7e]|[ "%]')
# What nats-py does to every header value: surrounding whitespace stripped, CR and LF made spaces.
_VALUE_NEWLINES = str.maketrans({"\r": " ", "\n": " "})
_HEADER_START = b"NATS/1.0\r\n"


def encode_header_value(value: str) -> str:
    """A CloudEvents attribute value as a NATS header value (UTF-8 percent-encoding of the rest)."""
    # Ids and timestamps need no escaping: skip quote()'s per-character work for them.
    if not _NEEDS_ESCAPE.search(value):
        return value
    return quote(value, safe=_UNESCAPED)


def _header_line(key: str, value: str) -> bytes:
    return f"{key}: {value.strip().translate(_VALUE_NEWLINES)}\r\n".encode()


@functools.lru_cache(maxsize=256)
def _subject_headers(subject: str, source: str, public_url: str) -> tuple[tuple[str, str], ...]:
    headers = {
        "ce-specversion": SPECVERSION,
        "ce-type": encode_header_value(subject),
        "ce-source": encode_header_value(source),
        "ce-datacontenttype": CONTENT_TYPE,
        "content-type": CONTENT_TYPE,
    }
    if subject in REGISTRY:
        headers["ce-dataschema"] = encode_header_value(schema_url(subject))
    return tuple(headers.items())


@functools.lru_cache(maxsize=256)
def _subject_block(subject: str, source: str, public_url: str) -> bytes:
    return b"".join(_header_line(key, value) for key, value in _subject_headers(subject, source, public_url))


def message_headers(
    *, subject: str, event_id: str, timestamp: str, aggregate: str = "", traceparent: str = "", tracestate: str = ""
) -> dict[str, str]:
    """Every header of one event message; `ce-time`, `ce-subject` and the trace context only when the event has them."""
    headers = {"Nats-Msg-Id": event_id, "ce-id": encode_header_value(event_id)}
    headers.update(_subject_headers(subject, settings.CLOUDEVENTS_SOURCE, settings.STATEHUB_PUBLIC_URL))
    if timestamp:
        headers["ce-time"] = encode_header_value(timestamp)
    if aggregate:
        headers["ce-subject"] = encode_header_value(aggregate)
    if traceparent:
        headers["traceparent"] = traceparent
        if tracestate:
            headers["tracestate"] = tracestate
    return headers


def header_block(
    *, subject: str, event_id: str, timestamp: str, aggregate: str = "", traceparent: str = "", tracestate: str = ""
) -> bytes:
    """`message_headers(...)` as the header section of an HPUB, byte for byte what nats-py would send."""
    block = (
        _HEADER_START
        + _header_line("Nats-Msg-Id", event_id)
        + _header_line("ce-id", encode_header_value(event_id))
        + _subject_block(subject, settings.CLOUDEVENTS_SOURCE, settings.STATEHUB_PUBLIC_URL)
    )
    if timestamp:
        block += _header_line("ce-time", encode_header_value(timestamp))
    if aggregate:
        block += _header_line("ce-subject", encode_header_value(aggregate))
    if traceparent:
        block += _header_line("traceparent", traceparent)
        if tracestate:
            block += _header_line("tracestate", tracestate)
    return block + b"\r\n"
