"""The stream the hub creates is the stream the docs describe; `ensure_stream` keeps it so; `/health` sees drift."""

import asyncio
import io
from typing import Any

import nats
import pytest
from django.core.management import CommandError, call_command
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from rest_framework.test import APIClient

from events import health
from events.checks import stream_settings_check
from events.publisher import nats_servers
from events.relay import relay_pending_events
from events.stream import stream_drift, wanted_stream
from hub import services

pytestmark = [pytest.mark.django_db, pytest.mark.nats]

THIRTY_DAYS_S = 30 * 24 * 3600
TWO_HOURS_S = 2 * 3600


def change_live_stream(url: str, stream: str, **changes: Any) -> None:
    """What an operator with the `nats` CLI might do to the live stream."""

    async def change() -> None:
        nc = await nats.connect(servers=nats_servers(url), connect_timeout=2, allow_reconnect=False)
        try:
            js = nc.jetstream()
            config = (await js.stream_info(stream)).config
            for name, value in changes.items():
                setattr(config, name, value)
            await js.update_stream(config=config)
        finally:
            await nc.close()

    asyncio.run(change())


def test_the_publisher_creates_the_stream_with_the_documented_limits(jetstream: Any) -> None:
    services.repo_register(data={"slug": "state-hub", "name": "State Hub"})
    assert relay_pending_events().published == 1

    config = jetstream.info().config
    assert config.subjects == ["org.>"]
    assert round(config.max_age) == THIRTY_DAYS_S
    assert round(config.duplicate_window) == TWO_HOURS_S
    assert config.num_replicas == 1
    assert stream_drift(wanted_stream(), config) == []


def test_ensure_stream_creates_the_stream_and_check_passes_on_it(jetstream: Any) -> None:
    out = io.StringIO()
    with pytest.raises(CommandError, match="does not exist"):
        call_command("ensure_stream", "--check", stdout=out)

    call_command("ensure_stream", stdout=out)
    call_command("ensure_stream", "--check", stdout=out)

    assert "Created stream ACTIVITY_EVENTS" in out.getvalue()
    assert "matches the settings" in out.getvalue()
    assert round(jetstream.info().config.max_age) == THIRTY_DAYS_S


def test_check_exits_1_naming_each_setting_someone_changed_and_ensure_stream_puts_them_back(
    jetstream: Any, settings: Any
) -> None:
    call_command("ensure_stream", stdout=io.StringIO())
    change_live_stream(settings.NATS_URL, settings.NATS_STREAM, max_age=3600.0, duplicate_window=120.0)
    err = io.StringIO()

    with pytest.raises(CommandError, match="differs from the settings in 2 setting") as failure:
        call_command("ensure_stream", "--check", stdout=io.StringIO(), stderr=err)
    out = io.StringIO()
    call_command("ensure_stream", stdout=out)
    call_command("ensure_stream", "--check", stdout=out)

    assert "max_age, duplicate_window" in str(failure.value)
    assert "max_age: wanted 2592000 s, live 3600 s" in err.getvalue()
    assert "duplicate_window: wanted 7200 s, live 120 s" in err.getvalue()
    assert "Updated stream" in out.getvalue()
    config = jetstream.info().config
    assert (round(config.max_age), round(config.duplicate_window)) == (THIRTY_DAYS_S, TWO_HOURS_S)


def test_ensure_stream_follows_the_settings(jetstream: Any, settings: Any) -> None:
    settings.NATS_STREAM_MAX_AGE_S = 0
    settings.NATS_STREAM_DUPLICATE_WINDOW_S = 3600

    call_command("ensure_stream", stdout=io.StringIO())

    config = jetstream.info().config
    assert (round(config.max_age or 0), round(config.duplicate_window)) == (0, 3600)


def test_ensure_stream_without_nats_says_so(nats_unset: None) -> None:
    with pytest.raises(CommandError, match="NATS_URL is not set"):
        call_command("ensure_stream", "--check")


def test_ensure_stream_fails_clearly_when_nats_is_unreachable(closed_nats_url: str, settings: Any) -> None:
    settings.NATS_URL = closed_nats_url
    with pytest.raises(CommandError, match="Could not reach NATS"):
        call_command("ensure_stream", "--check")


def test_health_is_degraded_while_the_stream_drifts(jetstream: Any, settings: Any) -> None:
    anon_api = APIClient()
    call_command("ensure_stream", stdout=io.StringIO())
    health.reset_health_cache()
    assert anon_api.get("/health").json()["stream"] == "ok"

    change_live_stream(settings.NATS_URL, settings.NATS_STREAM, max_age=86400.0)
    health.reset_health_cache()
    body = anon_api.get("/health").json()

    assert body["status"] == "degraded"
    assert body["stream"] == "drifted"
    assert body["stream_drift"] == ["max_age: wanted 2592000 s, live 86400 s"]


def test_drift_names_subjects_replicas_and_storage() -> None:
    live = StreamConfig(
        name="ACTIVITY_EVENTS",
        subjects=["other.>"],
        num_replicas=3,
        storage=StorageType.MEMORY,
        retention=RetentionPolicy.LIMITS,
    )
    live.max_age, live.duplicate_window = float(THIRTY_DAYS_S), float(TWO_HOURS_S)

    drift = {difference.setting: str(difference) for difference in stream_drift(wanted_stream(), live)}

    assert drift == {
        "subjects": "subjects: wanted org.>, live other.>",
        "replicas": "replicas: wanted 1, live 3",
        "storage": "storage: wanted file, live memory",
    }


def test_a_duplicate_window_longer_than_the_max_age_fails_the_system_checks(settings: Any) -> None:
    settings.NATS_STREAM_MAX_AGE_S = 3600

    errors = stream_settings_check(None)

    assert [error.id for error in errors] == ["events.E001"]
    assert "longer than NATS_STREAM_MAX_AGE_S" in errors[0].msg


def test_discard_new_is_drift() -> None:
    live = wanted_stream().config()
    live.discard = DiscardPolicy.NEW

    assert [str(difference) for difference in stream_drift(wanted_stream(), live)] == ["discard: wanted old, live new"]
