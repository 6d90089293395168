"""Every throttle keys on `client_ip`, counts in the shared cache, and lets requests through when that fails."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from events.api import ContractThrottle, HealthThrottle
from events.health import reset_health_cache
from statehub.api import throttling
from statehub.api.throttling import ClientAddressThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def counted_afresh(settings: Any) -> Iterator[None]:
    settings.SECURE_SSL_REDIRECT = False
    settings.NATS_URL = ""
    settings.HEALTH_CACHE_S = 0
    reset_health_cache()
    throttling.reset_cache_backoff()
    cache.clear()
    yield
    throttling.reset_cache_backoff()
    reset_health_cache()


@pytest.fixture
def three_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    # DRF reads the rates once, when the throttle class is defined.
    monkeypatch.setattr(HealthThrottle, "THROTTLE_RATES", {**HealthThrottle.THROTTLE_RATES, "health": "3/minute"})


def views(patterns: list[Any]) -> Iterator[Any]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
            if view is not None and hasattr(view, "throttle_classes"):
                yield view


def test_every_throttle_of_every_view_names_the_client_by_the_one_rule() -> None:
    throttles = {throttle for view in views(get_resolver().url_patterns) for throttle in view.throttle_classes}

    assert set(api_settings.DEFAULT_THROTTLE_CLASSES) <= throttles
    assert {HealthThrottle, ContractThrottle} <= throttles
    assert [throttle for throttle in throttles if not issubclass(throttle, ClientAddressThrottle)] == []


def test_without_trusted_proxy_headers_a_forged_x_forwarded_for_buys_no_new_count(
    settings: Any, three_a_minute: None
) -> None:
    settings.TRUST_PROXY_HEADERS = False
    client = APIClient()

    codes = [client.get("/health", HTTP_X_FORWARDED_FOR=f"10.2.0.{n}").status_code for n in range(5)]

    assert codes == [200, 200, 200, 429, 429]


def test_the_counts_live_in_the_database_cache_every_worker_reads(settings: Any, three_a_minute: None) -> None:
    # Production's cache without CACHE_URL (the test layer counts in memory; tests/test_settings.py
    # holds the production choice).
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "statehub_cache"}
    }
    settings.TRUST_PROXY_HEADERS = True
    APIClient().get("/health", HTTP_X_FORWARDED_FOR="198.51.100.4")

    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM statehub_cache")
        keys = [row[0] for row in cursor.fetchall()]

    assert [key for key in keys if "throttle_health_" in key] == [cache.make_key("throttle_health_198.51.100.4")]


def test_a_failing_cache_lets_requests_through_and_is_left_alone_for_a_while(
    three_a_minute: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        calls.append("get")
        raise ConnectionError("Redis is away")

    monkeypatch.setattr(HealthThrottle.cache, "get", unavailable)
    client = APIClient()

    with caplog.at_level(logging.WARNING, logger="statehub.api.throttling"):
        codes = [client.get("/health").status_code for _ in range(5)]

    assert codes == [200] * 5
    assert calls == ["get"]  # the next requests did not wait on it again
    assert [record.getMessage() for record in caplog.records] == [
        "The throttle cache failed; requests go through uncounted for 5 s."
    ]


def test_a_bug_in_counting_is_not_taken_for_a_cache_outage(
    three_a_minute: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("a bug, not an outage")

    monkeypatch.setattr(HealthThrottle.cache, "get", broken)

    with pytest.raises(TypeError):
        APIClient().get("/health")
