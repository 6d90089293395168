"""Fixtures for the event pipeline tests: a private JetStream per test and a way to read it back."""

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import nats
import nats.js.errors
import pytest

from events.publisher import nats_servers, reset_publisher
from events.replay import forget_current_stream_created
from events.subjects import REGISTRY
from statehub import devservers
from statehub.devservers import free_port
from tests import childprocess
from tests.events.contract import assert_valid_envelope


@dataclass
class StoredMessage:
    subject: str
    seq: int
    headers: dict[str, str]
    envelope: dict[str, Any]
    data: bytes


def check_contract(message: StoredMessage) -> None:
    """A hub event taken from the stream keeps the consumer contract; other subjects are not the hub's."""
    if message.subject not in REGISTRY:
        return
    assert_valid_envelope(message.envelope)
    envelope, headers = message.envelope, message.headers
    assert headers["Nats-Msg-Id"] == headers["ce-id"] == envelope["id"]
    assert (headers["ce-specversion"], headers["ce-type"]) == ("1.0", envelope["type"])
    assert headers["ce-time"] == envelope["timestamp"]
    registration = REGISTRY[envelope["type"]]
    assert headers["ce-dataschema"].endswith(f"/events/schemas/{envelope['type']}/{registration.schema_version}.json")
    assert unquote(headers["ce-subject"]) == registration.aggregate_key(envelope["attributes"])
    assert headers["content-type"] == headers["ce-datacontenttype"] == "application/json"


class JetStreamProbe:
    """Reads and resets the test stream on the private nats-server (each call opens its own connection)."""

    def __init__(self, url: str, stream: str) -> None:
        self.url = url
        self.stream = stream

    def _run(self, operation: Any) -> Any:
        async def main() -> Any:
            nc = await nats.connect(servers=nats_servers(self.url), connect_timeout=2, allow_reconnect=False)
            try:
                return await operation(nc.jetstream())
            finally:
                await nc.close()

        return asyncio.run(main())

    def delete_stream(self) -> None:
        async def delete(js: Any) -> None:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(self.stream)

        self._run(delete)

    def info(self) -> Any:
        async def info(js: Any) -> Any:
            try:
                return await js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                return None

        return self._run(info)

    def count(self) -> int:
        info = self.info()
        return 0 if info is None else int(info.state.messages)

    def messages(self) -> list[StoredMessage]:
        async def read(js: Any) -> list[StoredMessage]:
            try:
                info = await js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                return []
            found: list[StoredMessage] = []
            if not info.state.messages:
                return found
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                raw = await js.get_msg(self.stream, seq)
                found.append(
                    StoredMessage(
                        subject=raw.subject,
                        seq=raw.seq,
                        headers=dict(raw.headers or {}),
                        envelope=json.loads(raw.data),
                        data=raw.data,
                    )
                )
            return found

        result: list[StoredMessage] = self._run(read)
        for message in result:
            check_contract(message)
        return result


@pytest.fixture(autouse=True)
def _fresh_live_incarnation() -> Iterator[None]:
    """Each test asks the live stream its incarnation anew (the replay keeps it a few seconds)."""
    forget_current_stream_created()
    yield
    forget_current_stream_created()


@pytest.fixture
def jetstream(nats_server_url: str, settings: Any) -> Iterator[JetStreamProbe]:
    """Point the hub at the test nats-server with an empty stream, and a fresh publisher.

    The stream is deleted first: `NATS_URL`, when set for a test run, must name a disposable server.
    Afterwards every hub event the test left in the stream is checked against the contract.
    """
    settings.NATS_URL = nats_server_url
    probe = JetStreamProbe(nats_server_url, settings.NATS_STREAM)
    probe.delete_stream()
    reset_publisher()
    yield probe
    reset_publisher()
    probe.messages()


class RestartableNats:
    """A real nats-server with JetStream on a fixed loopback port, stopped and started again on demand."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: Any = None

    def start(self) -> None:
        _, self.process = devservers.start_nats(self.store, port=self.port)

    def stop(self) -> None:
        devservers.stop_process(self.process)


@pytest.fixture
def restartable_nats(tmp_path: Path, settings: Any) -> Iterator[RestartableNats]:
    server = RestartableNats(tmp_path / "nats")
    server.start()
    settings.NATS_URL = server.url
    reset_publisher()
    try:
        yield server
    finally:
        reset_publisher()
        server.stop()


@pytest.fixture
def nats_unset(settings: Any) -> Iterator[None]:
    """No NATS configured: publishing is a logged no-op."""
    settings.NATS_URL = ""
    reset_publisher()
    yield
    reset_publisher()


@pytest.fixture
def closed_nats_url() -> str:
    """A NATS URL on a loopback port nobody listens on."""
    return f"nats://127.0.0.1:{free_port()}"


@pytest.fixture
def broker_unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Celery with a real (non-eager) broker URL on a closed port, as when Redis is down."""
    from events.outbox import reset_enqueue_backoff
    from statehub.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url)
    url = f"redis://127.0.0.1:{free_port()}/0"
    app.conf.task_always_eager = False
    app.conf.broker_url = url
    # Celery's `broker_url` answers the CELERY_BROKER_URL variable before its own configuration: with
    # the machine's Redis in the environment, tasks would otherwise still reach it.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    app._pool = None
    app.amqp._producer_pool = None
    reset_enqueue_backoff()
    yield url
    app.conf.task_always_eager, app.conf.broker_url = saved
    app._pool = None
    app.amqp._producer_pool = None
    reset_enqueue_backoff()


@pytest.fixture
def test_database_url(db: None) -> str:
    """A DATABASE_URL for child processes that points at this session's test database."""
    return childprocess.database_url()
