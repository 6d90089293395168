"""A real hub (live server), a private nats-server per test module, and the reference consumer as a child process."""

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import nats
import nats.js.errors
import pytest
from django.contrib.auth.models import User

from events import relay
from events.models import OutboxEvent
from events.publisher import reset_publisher
from events.replay import forget_current_stream_created
from reference_consumer.state import State
from statehub import devservers
from tests.events.conftest import JetStreamProbe
from tests.tokens import token_for

ROOT = Path(__file__).resolve().parents[2]
STREAM = "RC_TEST_EVENTS"
DURABLE = "rc-test"
WAIT_S = 60
T = TypeVar("T")


@pytest.fixture(autouse=True)
def _fresh_live_incarnation() -> Iterator[None]:
    """Each test's hub asks the live stream its incarnation anew (the replay keeps it a few seconds)."""
    forget_current_stream_created()
    yield
    forget_current_stream_created()


def poll(condition: Callable[[], T], what: str, seconds: float = WAIT_S) -> T:
    """`condition()`'s first truthy value, asked every 0.1 s; fails saying `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"Timed out waiting for {what}")


class JetStream(JetStreamProbe):
    """The test's own view of the private nats-server (each call opens and closes a connection)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, STREAM)

    def purge_stream(self) -> None:
        self._run(lambda js: js.purge_stream(STREAM))

    def delete_durable(self) -> None:
        self._run(lambda js: js.delete_consumer(STREAM, DURABLE))

    def durable(self) -> Any:
        """The durable's info, or `None` when it does not exist."""

        async def info(js: Any) -> Any:
            try:
                return await js.consumer_info(STREAM, DURABLE)
            except nats.js.errors.NotFoundError:
                return None

        return self._run(info)

    def publish(self, subject: str, body: bytes, headers: dict[str, str]) -> None:
        self._run(lambda js: js.publish(subject, body, headers=headers))


@dataclass
class Hub:
    """The hub under test: its live server's URL and a token of a user allowed every write."""

    url: str
    token: str

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the live server
            self.url + path,
            data=json.dumps(body or {}).encode(),
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            result: dict[str, Any] = json.load(response)
            return result

    def make_events(self, tag: str, goals: int = 3, repos: int = 2) -> None:
        """`goals` activations in one domain (one aggregate, several events) and `repos` registrations."""
        domain = f"dom-{tag}"
        self.post("/domains/", {"slug": domain, "name": domain})
        for number in range(goals):
            key = f"goal-{tag}-{number}"
            self.post("/domain-goals/", {"key": key, "domain": domain, "title": key})
            self.post(f"/domain-goals/{key}/activate")
            if number < repos:
                self.post("/repos/", {"slug": f"repo-{tag}-{number}", "domain": domain})
        # Anything the in-request publish left pending (a slow PubAck) goes out now.
        relay.relay_pending_events()
        pending = OutboxEvent.objects.exclude(status=OutboxEvent.Status.PUBLISHED).count()
        assert pending == 0, f"{pending} events were not published"


class ConsumerProcess:
    """`python -m reference_consumer` as a child process, its handled envelopes appended to one file."""

    def __init__(self, directory: Path, hub: Hub, nats_url: str) -> None:
        self.state_path = directory / "state.sqlite"
        self.output = directory / "handled.jsonl"
        self.log = directory / "consumer.log"
        self.hub, self.nats_url = hub, nats_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *args: str, **env: str) -> None:
        command = [sys.executable, "-m", "reference_consumer", "--nats", self.nats_url, "--hub", self.hub.url]
        command += ["--token", self.hub.token, "--state", str(self.state_path), "--stream", STREAM]
        command += ["--durable", DURABLE, *args]
        with self.output.open("ab") as output, self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=output, stderr=log, env=devservers.environment_with(**env)
            )

    def stop(self) -> None:
        """SIGTERM: the consumer finishes the event in hand and exits cleanly."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(30) == 0, self.log_text()

    def crash_at(self, step: str) -> None:
        """Run with the crash hook set, until the process dies at that step."""
        self.start(REFERENCE_CONSUMER_CRASH_AT=step)
        assert self.process is not None
        assert self.process.wait(WAIT_S) == 137, self.log_text()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def handled(self) -> list[dict[str, Any]]:
        """Every envelope the handler was given, in the order it was given them, over every run."""
        if not self.output.exists():
            return []
        return [json.loads(line) for line in self.output.read_text().splitlines() if line.strip()]

    def handled_ids(self) -> list[str]:
        return [envelope["id"] for envelope in self.handled()]

    def set_aside_ids(self, kind: str) -> list[str | None]:
        state = State(self.state_path, dedupe_window=1)
        try:
            return state.set_aside_ids(kind)
        finally:
            state.close()

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def wait_caught_up(consumer: ConsumerProcess, jetstream: JetStream, expected: int) -> None:
    """Until the handler has seen `expected` events and the durable has nothing left to deliver or ack."""

    def caught_up() -> bool:
        if consumer.process is not None and consumer.process.poll() is not None:
            raise AssertionError(f"The consumer exited with {consumer.process.returncode}:\n{consumer.log_text()}")
        durable = jetstream.durable()
        return (
            len(consumer.handled()) >= expected
            and durable is not None
            and durable.num_pending == 0
            and durable.num_ack_pending == 0
        )

    try:
        poll(caught_up, f"{expected} handled events and a drained durable")
    except AssertionError:
        print(consumer.log_text(), file=sys.stderr)
        raise


def published_in_order() -> list[OutboxEvent]:
    """The hub's events in the order they were written (per aggregate: commit and publish order)."""
    return list(OutboxEvent.objects.order_by("position"))


def assert_each_handled_once_in_order(consumer: ConsumerProcess) -> None:
    """0 lost, 0 duplicates at the handler, and every aggregate's events in the order the hub wrote them."""
    handled = consumer.handled_ids()
    expected = published_in_order()
    assert len(handled) == len(set(handled)), "an event reached the handler twice"
    assert set(handled) == {str(event.id) for event in expected}
    aggregate_of = {str(event.id): event.aggregate for event in expected}
    for aggregate in {event.aggregate for event in expected}:
        in_hub = [str(event.id) for event in expected if event.aggregate == aggregate]
        at_handler = [event_id for event_id in handled if aggregate_of[event_id] == aggregate]
        assert at_handler == in_hub, f"events of {aggregate} out of order"


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of this test module alone: the tests delete and recreate its streams."""
    url, process = devservers.start_nats(tmp_path_factory.mktemp("nats"))
    try:
        yield url
    finally:
        devservers.stop_process(process)


@pytest.fixture
def jetstream(nats_url: str, settings: Any) -> Iterator[JetStream]:
    """The hub publishes to the private server's test stream, which starts absent."""
    settings.NATS_URL = nats_url
    settings.NATS_STREAM = STREAM
    jetstream = JetStream(nats_url)
    jetstream.delete_stream()
    reset_publisher()
    yield jetstream
    reset_publisher()


@pytest.fixture
def hub(live_server: Any, transactional_db: None, jetstream: JetStream) -> Hub:
    user = User.objects.create_superuser("consumer-tests", password="pw-for-tests-only")
    return Hub(url=live_server.url, token=token_for(user))


@pytest.fixture
def consumer(tmp_path: Path, hub: Hub, nats_url: str) -> Iterator[ConsumerProcess]:
    process = ConsumerProcess(tmp_path, hub, nats_url)
    yield process
    process.kill()
