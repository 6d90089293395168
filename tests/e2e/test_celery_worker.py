"""End to end: a real `celery -A statehub worker` process with Redis publishes a committed event."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from events.models import OutboxEvent
from events.outbox import reset_enqueue_backoff
from hub import services
from statehub.celery import app

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"


def reachable_broker() -> str:
    url = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
    except Exception as exc:
        pytest.skip(f"No Redis broker reachable at {url} ({exc}); set CELERY_BROKER_URL to run this test.")
    return url


@pytest.fixture
def celery_worker(jetstream: Any, tmp_path: Path, test_database_url: str) -> Iterator[Path]:
    """A worker subprocess on a private queue of the Redis broker, and this process enqueueing to it."""
    broker = reachable_broker()
    queue = f"statehub-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = dict(
        os.environ,
        DATABASE_URL=test_database_url,
        NATS_URL=settings.NATS_URL,
        NATS_STREAM=settings.NATS_STREAM,
        CELERY_BROKER_URL=broker,
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
    )
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "statehub",
                "worker",
                "-Q",
                queue,
                "--concurrency",
                "1",
                "-l",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    saved = (app.conf.task_always_eager, app.conf.broker_url, app.conf.task_default_queue)
    app.conf.task_always_eager, app.conf.broker_url, app.conf.task_default_queue = False, broker, queue
    app._pool = None
    app.amqp._producer_pool = None
    reset_enqueue_backoff()
    try:
        yield log
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)
        app.conf.task_always_eager, app.conf.broker_url, app.conf.task_default_queue = saved
        app._pool = None
        app.amqp._producer_pool = None


def test_a_service_call_ends_with_the_message_in_the_stream_via_the_worker(celery_worker: Path, jetstream: Any) -> None:
    repo = services.repo_register(data={"slug": "e2e-repo", "name": "E2E"})  # commits: transaction=True test

    event = OutboxEvent.objects.get()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        event.refresh_from_db()
        if event.status != OutboxEvent.Status.PENDING:
            break
        time.sleep(0.2)

    log = celery_worker.read_text(errors="replace")[-3000:]
    assert event.status == OutboxEvent.Status.PUBLISHED, log
    [message] = jetstream.messages()
    assert message.headers["Nats-Msg-Id"] == str(event.id)
    assert message.envelope["attributes"]["repo_id"] == str(repo.id)
    assert "publish_outbox_event" in log
