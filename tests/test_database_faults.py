"""A database that refuses or hangs: every API endpoint and `/health` answer a JSON 503, not a worker timeout.

The hub runs as a real gunicorn process whose DATABASE_URL points at a refused port or at a
listener that accepts connections and never answers (what a hung server looks like to a client).
Each answer comes from the hub's own bounds (connect timeout, restart wait) while gunicorn's worker
lives on: a request that outlived gunicorn's timeout would have its worker killed and no answer.
How many seconds the answers take (DESIGN §6.11: a few; `/health` 3) is bench/database_outage.py's figure.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from statehub.devservers import free_port
from tests.network import silent_listener

ROOT = Path(__file__).resolve().parent.parent
# One of each kind of endpoint: lists, items, actions, writes, the outbox, metrics, the schema.
REQUESTS = [
    ("GET", "/repos/"),
    ("POST", "/repos/"),
    ("GET", "/workstreams/CUST-WP-0001/"),
    ("PATCH", "/tasks/CUST-WP-0001-T01/"),
    ("POST", "/decisions/DEC-0001/resolve"),
    ("GET", "/next-steps/"),
    ("GET", "/events/"),
    ("POST", "/repos/state-hub/sync"),
    ("GET", "/metrics"),
]


@pytest.fixture
def hung_listener() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with silent_listener() as port:
        yield port


def serve(database_port: int) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"NATS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"}
    }
    environment.update(
        DATABASE_URL=f"postgres://statehub@127.0.0.1:{database_port}/statehub",
        DATABASE_CONNECT_TIMEOUT_S="2",
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "test-only-" + "x" * 50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
    )
    # gunicorn's default worker timeout (30 s), stated: the hub's answers must come well inside it.
    command = ["gunicorn", "statehub.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "30"]
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return f"http://127.0.0.1:{port}", process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def call(base: str, method: str, path: str) -> tuple[int, dict[str, str], dict[str, object]]:
    body = b"{}" if method in ("POST", "PATCH") else None
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        base + path,
        data=body,
        method=method,
        headers={"Authorization": "Token " + "0" * 40, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback test server
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    return status, headers, json.loads(raw)


@dataclass
class Hub:
    base: str
    pid: int

    def workers(self) -> set[str]:
        """The pids of gunicorn's workers: a worker killed for its timeout is replaced by one with a new pid."""
        return set(Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split())


@pytest.fixture(params=["refused", "hung"])
def hub_without_database(request: pytest.FixtureRequest) -> Iterator[Hub]:
    database_port = free_port() if request.param == "refused" else request.getfixturevalue("hung_listener")
    base, process = serve(database_port)
    try:
        # A warm worker, as in production: the first request also imports the views. No database needed.
        status, _, body = call(base, "GET", "/no-such-endpoint/")
        assert (status, body["code"]) == (404, "not_found")
        yield Hub(base, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_every_api_endpoint_answers_a_json_503_not_a_worker_timeout(hub_without_database: Hub) -> None:
    workers = hub_without_database.workers()
    assert workers

    for method, path in REQUESTS:
        status, headers, body = call(hub_without_database.base, method, path)

        assert status == 503, (method, path, body)
        assert body["code"] == "database_unavailable"
        assert int(headers["Retry-After"]) > 0
    assert hub_without_database.workers() == workers  # none was killed for running past its timeout


def test_health_answers_503_not_a_worker_timeout(hub_without_database: Hub) -> None:
    workers = hub_without_database.workers()
    assert workers

    status, headers, body = call(hub_without_database.base, "GET", "/health")

    assert status == 503
    assert (body["status"], body["database"]) == ("down", "unreachable")
    assert "Retry-After" in headers
    assert hub_without_database.workers() == workers
