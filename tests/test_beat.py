"""One beat per database (statehub/beat.py): a beat whose lock session is killed exits before another one sends.

Real `celery -A statehub beat` processes against the test database and a real Redis broker. No
worker consumes the queue, so the broker's list keeps every task message the beats sent, in the
order they were sent, each naming the process that sent it (`origin`, `gen<pid>@host`).
"""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from statehub.beat import BEAT_LOCK_KEY
from tests import childprocess
from tests.childprocess import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
# A Redis database of its own (the worker test uses 14, the deploy smoke run 12).
BEAT_BROKER_DB = 13
# Celery's default queue: kombu's Redis transport pushes each message on the left of this list.
QUEUE = "celery"
LOST_LOCK = "no longer holds the beat lock"


def broker() -> tuple[str, Any]:
    import redis

    url = f"redis://127.0.0.1:6379/{BEAT_BROKER_DB}"
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=5)
    try:
        client.delete(QUEUE)
    except Exception as exc:
        pytest.skip(f"No Redis reachable at {url} ({exc}); the beat tests need one as broker.")
    return url, client


class Beats:
    """Beat processes started like the deploy guide's, each with its own schedule file and log."""

    def __init__(self, tmp_path: Path, broker_url: str) -> None:
        self.tmp_path = tmp_path
        self.broker_url = broker_url
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        env = childprocess.environment(
            CELERY_BROKER_URL=self.broker_url,
            CELERY_BEAT_SCHEDULE_FILENAME=str(self.tmp_path / name / "celerybeat-schedule"),
            EVENTS_RELAY_INTERVAL_S="1",
        )
        with (self.tmp_path / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "statehub", "beat", "--loglevel", "INFO"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


@pytest.fixture
def beats(tmp_path: Path) -> Iterator[tuple[Beats, Any]]:
    url, client = broker()
    started = Beats(tmp_path, url)
    try:
        yield started, client
    finally:
        started.stop_all()
        client.delete(QUEUE)


def sent_by(client: Any) -> list[int]:
    """The pid of the process that sent each task message in the queue, oldest first."""
    senders = []
    for raw in reversed(client.lrange(QUEUE, 0, -1)):
        origin = json.loads(raw).get("headers", {}).get("origin", "")
        senders.append(int(origin.split("@", 1)[0].removeprefix("gen")) if origin.startswith("gen") else 0)
    return senders


def beat_lock_sessions() -> list[int]:
    """Backend pids holding the beat lock in this (the test) database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid::bigint * 4294967296 + objid::bigint = %s",
            [BEAT_LOCK_KEY],
        )
        return [pid for (pid,) in cursor.fetchall()]


def test_a_beat_whose_lock_session_is_killed_exits_before_the_next_beat_sends(
    beats: tuple[Beats, Any],
) -> None:
    processes, client = beats
    first = processes.start("beat-1")
    wait_for(lambda: "Holding the beat lock" in processes.log("beat-1"), 120, "the first beat did not take the lock")
    wait_for(lambda: first.pid in sent_by(client), 60, "the first beat sent no task:\n" + processes.log("beat-1"))
    [session] = beat_lock_sessions()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [session])
        assert cursor.fetchone() == (True,)
    # The lock is free now: a second beat started at once takes it and sends straight away.
    second = processes.start("beat-2")

    assert first.wait(120) == 1, processes.log("beat-1")
    sent_before_the_first_beat_ended = len(sent_by(client))
    wait_for(lambda: second.pid in sent_by(client), 120, "the second beat sent no task:\n" + processes.log("beat-2"))

    senders = sent_by(client)
    before, after = senders[:sent_before_the_first_beat_ended], senders[sent_before_the_first_beat_ended:]
    assert second.pid not in before
    assert first.pid not in after and second.pid in after
    first_log = processes.log("beat-1")
    [lost] = [line for line in first_log.splitlines() if LOST_LOCK in line]
    assert "CRITICAL" in lost, first_log
    # Nothing was sent by the first beat once it had found the lock gone.
    assert "Sending due task" not in first_log.split(LOST_LOCK, 1)[1]
    assert "Holding the beat lock" in processes.log("beat-2")
    assert beat_lock_sessions() != [session] and len(beat_lock_sessions()) == 1
    assert second.poll() is None


def test_a_beat_that_keeps_its_lock_keeps_sending_and_a_second_one_exits(beats: tuple[Beats, Any]) -> None:
    processes, client = beats
    first = processes.start("beat-1")
    wait_for(lambda: "Holding the beat lock" in processes.log("beat-1"), 120, "the first beat did not take the lock")
    second = processes.start("beat-2")

    assert second.wait(120) == 1
    sent = sent_by(client).count(first.pid)
    wait_for(lambda: sent_by(client).count(first.pid) > sent, 60, "the first beat stopped sending")

    assert first.poll() is None
    assert LOST_LOCK not in processes.log("beat-1")
    assert "Another celery beat already runs" in processes.log("beat-2")
