"""gunicorn's access log names the client by `statehub.security.client_ip`'s rule, not the proxy."""

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config

from statehub import gunicorn

ENVIRON = {
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.4",
    "REQUEST_METHOD": "GET",
    "RAW_URI": "/health",
    "SERVER_PROTOCOL": "HTTP/1.0",
}


def first_field(environ: dict[str, Any]) -> str:
    logger = gunicorn.ClientAddressLogger(Config())
    response = SimpleNamespace(status="200 OK", headers=[], sent=2)
    request = SimpleNamespace(headers=[])
    return str(logger.atoms(response, request, environ, dt.timedelta(milliseconds=3))["h"])


@pytest.mark.parametrize(("trusted", "client"), [(True, "198.51.100.4"), (False, "127.0.0.1")])
def test_the_access_log_names_the_client_as_the_lockout_and_throttles_do(
    settings: Any, trusted: bool, client: str
) -> None:
    settings.TRUST_PROXY_HEADERS = trusted
    settings.TRUSTED_PROXY_COUNT = 1

    assert first_field(ENVIRON) == client


def test_the_gunicorn_config_uses_that_logger() -> None:
    config = Config()
    config.set("logger_class", gunicorn.logger_class)

    assert config.logger_class is gunicorn.ClientAddressLogger
