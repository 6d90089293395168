"""The JetStream stream the hub publishes to, as the settings describe it, and how a live one differs.

One description serves the publisher (which creates the stream when it is missing), `manage.py
ensure_stream` (creates or updates it, or with `--check` reports drift) and `/health` (drift is
`degraded`): subjects `org.>`, file storage, limits retention discarding the oldest, a maximum
age (`NATS_STREAM_MAX_AGE_S`, 30 days), a duplicate window (`NATS_STREAM_DUPLICATE_WINDOW_S`,
2 hours) and replicas (`NATS_STREAM_REPLICAS`).
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from events.subjects import STREAM_SUBJECTS


@dataclass(frozen=True)
class StreamSettings:
    """What the hub wants of its stream."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: int
    duplicate_window_s: int
    replicas: int

    def config(self) -> StreamConfig:
        """The nats-py configuration that creates this stream (0 max age: no age limit)."""
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            max_age=float(self.max_age_s),
            duplicate_window=float(self.duplicate_window_s),
            num_replicas=self.replicas,
        )

    def applied_to(self, live: StreamConfig) -> StreamConfig:
        """`live` with the settings the hub owns set as wanted (everything else left as it is)."""
        merged = StreamConfig.from_response(live.as_dict())
        merged.subjects = sorted(set(live.subjects or []) | set(self.subjects))
        merged.max_age = float(self.max_age_s)
        merged.discard = DiscardPolicy.OLD
        merged.duplicate_window = float(self.duplicate_window_s)
        merged.num_replicas = self.replicas
        return merged


@dataclass(frozen=True)
class Drift:
    """One setting where the live stream differs from the hub's."""

    setting: str
    wanted: str
    live: str

    def __str__(self) -> str:
        return f"{self.setting}: wanted {self.wanted}, live {self.live}"


def wanted_stream() -> StreamSettings:
    return StreamSettings(
        name=settings.NATS_STREAM,
        subjects=tuple(STREAM_SUBJECTS),
        max_age_s=settings.NATS_STREAM_MAX_AGE_S,
        duplicate_window_s=settings.NATS_STREAM_DUPLICATE_WINDOW_S,
        replicas=settings.NATS_STREAM_REPLICAS,
    )


def _seconds(value: float | None) -> str:
    whole = round(value or 0)
    return "no limit" if whole <= 0 else f"{whole} s"


def _name(value: Any) -> str:
    return str(getattr(value, "value", value))


def stream_drift(wanted: StreamSettings, live: StreamConfig) -> list[Drift]:
    """Every setting of `wanted` the live stream does not have (the subjects: it must take `org.>`)."""
    drift = []
    missing = [subject for subject in wanted.subjects if subject not in (live.subjects or [])]
    if missing:
        drift.append(Drift("subjects", ", ".join(wanted.subjects), ", ".join(live.subjects or []) or "none"))
    if round(live.max_age or 0) != wanted.max_age_s:
        drift.append(Drift("max_age", _seconds(wanted.max_age_s), _seconds(live.max_age)))
    if round(live.duplicate_window or 0) != wanted.duplicate_window_s:
        drift.append(Drift("duplicate_window", _seconds(wanted.duplicate_window_s), _seconds(live.duplicate_window)))
    if (live.num_replicas or 1) != wanted.replicas:
        drift.append(Drift("replicas", str(wanted.replicas), str(live.num_replicas or 1)))
    if _name(live.storage) != StorageType.FILE.value:
        drift.append(Drift("storage", StorageType.FILE.value, _name(live.storage)))
    if _name(live.retention) != RetentionPolicy.LIMITS.value:
        drift.append(Drift("retention", RetentionPolicy.LIMITS.value, _name(live.retention)))
    if live.discard is not None and _name(live.discard) != DiscardPolicy.OLD.value:
        drift.append(Drift("discard", DiscardPolicy.OLD.value, _name(live.discard)))
    return drift


def settings_problems(wanted: StreamSettings) -> list[str]:
    """What JetStream would refuse in these settings (a duplicate window longer than the max age)."""
    if 0 < wanted.max_age_s < wanted.duplicate_window_s:
        return [
            f"NATS_STREAM_DUPLICATE_WINDOW_S ({wanted.duplicate_window_s}) is longer than NATS_STREAM_MAX_AGE_S "
            f"({wanted.max_age_s}): JetStream refuses such a stream."
        ]
    if wanted.duplicate_window_s <= 0 or wanted.replicas < 1:
        return ["NATS_STREAM_DUPLICATE_WINDOW_S and NATS_STREAM_REPLICAS must be positive."]
    return []
