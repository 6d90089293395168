"""Management commands of the event app: relay_events, prune_events, tail_events."""

import datetime as dt
import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from events.models import OutboxEvent
from events.publisher import publish_event
from hub import services
from statehub import devservers
from tests import childprocess
from tests.events.contract import repo_registered_envelope

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_relay_events_once_publishes_the_backlog(jetstream: Any) -> None:
    services.repo_register(data={"slug": "a", "name": "a"})
    services.repo_register(data={"slug": "b", "name": "b"})
    out = io.StringIO()

    call_command("relay_events", "--once", stdout=out)

    assert "published 2" in out.getvalue()
    assert jetstream.count() == 2


def test_relay_events_rejects_a_non_positive_batch_size() -> None:
    with pytest.raises(SystemExit) as exit_info:
        call_command("relay_events", "--once", "--batch-size", "0", stderr=io.StringIO())
    assert exit_info.value.code == 2


def test_prune_events_reports_what_it_deleted() -> None:
    services.repo_register(data={"slug": "a", "name": "a"})
    OutboxEvent.objects.update(status=OutboxEvent.Status.PUBLISHED, created_at=timezone.now() - dt.timedelta(days=60))
    out = io.StringIO()

    call_command("prune_events", "--days", "30", stdout=out)

    assert "Deleted 1 " in out.getvalue()
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize("days", ["-1", "1e9", "nan", "inf"])
def test_prune_events_rejects_days_out_of_range(days: str) -> None:
    with pytest.raises(CommandError, match="between 0 and 36500"):
        call_command("prune_events", "--days", days)


def test_tail_events_prints_each_envelope_as_one_json_line(jetstream: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    failures: list[BaseException] = []

    def tail() -> None:
        try:
            call_command("tail_events", "--count", "2", "--timeout", "20", stdout=out, stderr=err)
        except BaseException as exc:  # surfaced by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=tail)
    thread.start()
    deadline = time.monotonic() + 10
    while "Listening" not in err.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    envelopes: list[dict[str, Any]] = [repo_registered_envelope(f"repo-{n}") for n in (1, 2)]
    for envelope in envelopes:
        assert publish_event(envelope["type"], envelope)
    publish_event("org.other.thing", {"id": "00000000-0000-4000-8000-000000000009", "type": "org.other.thing"})
    thread.join(25)

    assert failures == []
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == envelopes


def test_tail_events_without_nats_url_says_so(nats_unset: None) -> None:
    with pytest.raises(CommandError, match="NATS_URL is not set"):
        call_command("tail_events")


def test_tail_events_fails_clearly_when_nats_is_unreachable(closed_nats_url: str) -> None:
    with pytest.raises(CommandError, match="Cannot connect"):
        call_command("tail_events", "--url", closed_nats_url, "--timeout", "1")


def test_tail_events_says_one_line_per_reconnect_attempt_when_nats_goes_away(tmp_path: Path) -> None:
    url, server = devservers.start_nats(tmp_path / "nats")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "tail_events", "--url", url, "--timeout", "7"],
        cwd=ROOT,
        env=childprocess.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Stop the server only once the command listens (its start-up is slow on a loaded machine).
        assert process.stderr is not None
        first = process.stderr.readline()
        assert first.startswith("Listening on "), first
        devservers.stop_process(server)
        _, rest = process.communicate(timeout=30)
    finally:
        devservers.stop_process(server)
        if process.poll() is None:
            process.kill()
            process.wait()

    stderr = first + rest
    reconnect_lines = [line for line in stderr.splitlines() if line.startswith("NATS: ")]
    assert "Traceback" not in stderr
    assert "NATS: disconnected; reconnecting." in reconnect_lines
    assert any(line.endswith("; retrying.") for line in reconnect_lines), stderr
    assert all(line.startswith(("NATS: ", "Listening on ")) for line in stderr.splitlines()), stderr
