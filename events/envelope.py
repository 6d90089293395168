"""The v1.0 event envelope: `id`, `type`, `version`, `timestamp`, `publisher`, `attributes`."""

import datetime as dt
import json
import uuid
from typing import Any

from events.errors import EnvelopeError
from events.subjects import ENVELOPE_VERSION, PUBLISHER


def format_timestamp(moment: dt.datetime) -> str:
    """Format an aware datetime as UTC with milliseconds and a `Z`, as the envelope requires."""
    if moment.tzinfo is None:
        raise EnvelopeError("Event timestamps must be timezone-aware.")
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not allowed in event attributes")


def build_envelope(
    *, subject: str, attributes: dict[str, Any], occurred_at: dt.datetime, event_id: uuid.UUID
) -> dict[str, Any]:
    """Build the envelope and round-trip it through JSON, so a bad attribute fails here, not in a worker."""
    envelope = {
        "id": str(event_id),
        "type": subject,
        "version": ENVELOPE_VERSION,
        "timestamp": format_timestamp(occurred_at),
        "publisher": PUBLISHER,
        "attributes": attributes,
    }
    try:
        result: dict[str, Any] = json.loads(json.dumps(envelope, default=_encode, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise EnvelopeError(f"Attributes of {subject} are not JSON-serialisable: {exc}") from exc
    return result


def encode_envelope(envelope: dict[str, Any]) -> bytes:
    """The bytes sent on the wire: compact JSON, UTF-8."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
