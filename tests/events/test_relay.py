"""Relay details: back-off, the per-event task, metrics that fail, interrupting the commands."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from events import metrics, publisher, relay
from events.models import OutboxEvent
from events.tasks import publish_outbox_event, relay_pending_events
from hub import services
from tests.network import has_connection_to, port_of

pytestmark = pytest.mark.django_db

ROOT = Path(django_settings.BASE_DIR)


def test_backoff_grows_exponentially_with_jitter_and_stops_at_the_cap(settings: Any) -> None:
    settings.EVENTS_BACKOFF_BASE_S = 2.0
    settings.EVENTS_BACKOFF_CAP_S = 60.0

    for attempts, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (30, 60.0)]:
        delays = [relay.backoff_delay(attempts) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > 0  # jittered


def test_the_publish_task_leaves_a_row_that_is_not_pending_alone(jetstream: Any) -> None:
    services.repo_register(data={"slug": "a", "name": "a"})
    OutboxEvent.objects.update(status=OutboxEvent.Status.FAILED)
    event = OutboxEvent.objects.get()

    result = publish_outbox_event.apply(args=[str(event.id)]).get()

    assert result["claimed"] == 0
    assert jetstream.count() == 0


def test_the_publish_task_leaves_a_row_that_is_not_yet_due_alone(jetstream: Any) -> None:
    services.repo_register(data={"slug": "a", "name": "a"})
    OutboxEvent.objects.update(next_attempt_at=timezone.now() + dt.timedelta(minutes=1))
    event = OutboxEvent.objects.get()

    assert publish_outbox_event.apply(args=[str(event.id)]).get()["claimed"] == 0
    assert relay_pending_events.apply().get()["claimed"] == 0


def test_a_failing_metrics_hook_does_not_change_the_outcome(jetstream: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("metrics backend is broken")

    monkeypatch.setattr(metrics.PUBLISH_ATTEMPTS, "labels", broken)
    monkeypatch.setattr(metrics.COMMIT_TO_ACK_SECONDS, "observe", broken)
    services.repo_register(data={"slug": "a", "name": "a"})

    report = relay.relay_pending_events()

    assert report.published == 1
    assert OutboxEvent.objects.get().status == OutboxEvent.Status.PUBLISHED


def test_published_events_are_counted(jetstream: Any) -> None:
    counter = metrics.PUBLISH_ATTEMPTS.labels(outcome="published")
    before = counter._value.get()
    services.repo_register(data={"slug": "a", "name": "a"})

    relay.relay_pending_events()

    assert counter._value.get() == before + 1


def test_a_forked_process_gets_its_own_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = publisher._get_publisher()
    monkeypatch.setattr(os, "getpid", lambda: parent.pid + 1)

    child = publisher._get_publisher()

    assert child is not parent
    assert child.pid == parent.pid + 1


@pytest.mark.parametrize("command", [["tail_events"], ["relay_events", "--interval", "60"]])
def test_ctrl_c_stops_the_long_running_commands_cleanly(
    command: list[str], nats_server_url: str, test_database_url: str
) -> None:
    env = dict(
        os.environ,
        NATS_URL=nats_server_url,
        DATABASE_URL=test_database_url,
        DJANGO_SECRET_KEY=django_settings.SECRET_KEY,
        # A command that does not stop prints every thread's stack when the test aborts it (below).
        PYTHONFAULTHANDLER="1",
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test session started in the background of a script inherits SIGINT
        # ignored (POSIX shells ignore it in asynchronous commands), and so would the command.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Ctrl-C once the command runs (it has reached NATS), not after a fixed pause: on a busy machine
    # the interpreter may still be starting Django after any fixed number of seconds.
    deadline = time.monotonic() + 60
    while not has_connection_to(process.pid, port_of(nats_server_url)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the command did not reach NATS within 60 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, stderr = process.communicate()
        pytest.fail(f"{command[0]} did not stop within 20 s of Ctrl-C; its threads then:\n{stderr[-8000:]}")

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
