"""Settings refuse to start without a secret key outside debug."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "DJANGO_DEBUG")}
    environment.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)",
        ],
        env={**environment, "DJANGO_SETTINGS_MODULE": "statehub.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_to_start_without_a_secret_key_outside_debug():
    result = _load_settings(DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in result.stderr


def test_debug_mode_starts_without_a_secret_key():
    result = _load_settings(DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def _production(**env: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(
        DJANGO_SECRET_KEY="a-long-random-production-secret-" + "k7Qx9Lm2Zp4Rt8Wv" * 3,
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_SETTINGS_MODULE="statehub.settings",
    )
    environment.update(env)
    return environment


def _deploy_check(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deployment_checks_with_no_warnings() -> None:
    result = _deploy_check(_production(DJANGO_ALLOWED_HOSTS="hub.example.org"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _status_of_a_plain_http_request_claiming_https(**env: str) -> str:
    script = (
        "import django; django.setup(); from django.test import Client; "
        "response = Client().get('/domains/', HTTP_X_FORWARDED_PROTO='https'); "
        "print(response.status_code, response.get('Location', ''))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=_production(**env), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_forwarded_proto_header_is_not_trusted_by_default() -> None:
    assert _status_of_a_plain_http_request_claiming_https() == "301 https://testserver/domains/"


def test_a_forwarded_proto_header_is_trusted_behind_a_configured_proxy() -> None:
    # Taken as HTTPS: no redirect, the request reaches the API (which wants credentials).
    assert _status_of_a_plain_http_request_claiming_https(DJANGO_TRUST_PROXY_HEADERS="true") == "401"


def test_hsts_subdomains_and_preload_can_be_turned_off_and_the_deploy_checks_stay_clean() -> None:
    environment = _production(
        DJANGO_ALLOWED_HOSTS="hub.example.org",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
        DJANGO_SECURE_HSTS_PRELOAD="false",
    )
    check = _deploy_check(environment)
    header = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.test import Client; "
            "print(Client().get('/health', secure=True, HTTP_HOST='hub.example.org')['Strict-Transport-Security'])",
        ],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert check.returncode == 0, check.stdout + check.stderr
    assert header.stdout.strip() == "max-age=31536000", header.stderr


def _settings_value(expression: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import django; from django.conf import settings; django.setup(); print({expression})"],
        env=_production(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_throttle_counters_are_in_redis_when_cache_url_names_it_and_in_postgresql_otherwise() -> None:
    redis = _settings_value("settings.CACHES['default']['BACKEND']", CACHE_URL="redis://127.0.0.1:6379/1")
    database = _settings_value("settings.CACHES['default']['BACKEND']", CACHE_URL="")

    assert redis.stdout.strip() == "django.core.cache.backends.redis.RedisCache", redis.stderr
    assert database.stdout.strip() == "django.core.cache.backends.db.DatabaseCache", database.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CACHE_URL": "locmem://"}, "CACHE_URL must be a Redis URL"),
        ({"DJANGO_TRUSTED_PROXY_COUNT": "0"}, "DJANGO_TRUSTED_PROXY_COUNT must be 1 or more"),
    ],
)
def test_settings_that_would_split_or_forge_the_client_refuse_to_start(env: dict[str, str], message: str) -> None:
    result = _settings_value("settings.CACHES", **env)

    assert result.returncode != 0
    assert message in result.stderr
