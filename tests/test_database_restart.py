"""A new database connection waits out a PostgreSQL restart instead of failing the request.

Between the test and the real server sits a proxy that answers its first connections as a
restarting PostgreSQL does ("FATAL: the database system is starting up", SQLSTATE 57P03), and
afterwards forwards the bytes to the real server.
"""

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connections

pytestmark = pytest.mark.django_db

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


def error_response(message: str) -> bytes:
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in [(b"S", "FATAL"), (b"V", "FATAL"), (b"C", "57P03"), (b"M", message)]
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


class RestartingProxy:
    """Answers "starting up" to its first `refusing` connections (all of them when None), then forwards."""

    def __init__(self, target: Any, refusing: int | None) -> None:
        self.target = target
        self.refusing = refusing
        self.connections = 0
        self.refusals = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            refuse = self.refusing is None or self.connections <= self.refusing
            threading.Thread(target=self._serve, args=(client, refuse), daemon=True).start()

    def _serve(self, client: socket.socket, refuse: bool) -> None:
        with client:
            if refuse:
                self._refuse(client)
                return
            with self.target() as server:
                pipes = [threading.Thread(target=pipe, args=(a, b)) for a, b in ((client, server), (server, client))]
                for thread in pipes:
                    thread.start()
                for thread in pipes:
                    thread.join()

    def _refuse(self, client: socket.socket) -> None:
        while True:
            length, code = struct.unpack("!II", client.recv(8, socket.MSG_WAITALL))
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                client.sendall(b"N")
                continue
            client.recv(length - 8, socket.MSG_WAITALL)
            self.refusals += 1
            client.sendall(error_response("the database system is starting up"))
            return

    def close(self) -> None:
        self.stopped.set()
        self.acceptor.join()
        self.listener.close()


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def restarting(settings: Any) -> Iterator[Any]:
    real = connections["default"].get_connection_params()
    host, port = real.get("host") or "127.0.0.1", int(real.get("port") or 5432)

    def target() -> socket.socket:
        if host.startswith("/"):
            unix = socket.socket(socket.AF_UNIX)
            unix.connect(f"{host}/.s.PGSQL.{port}")
            return unix
        return socket.create_connection((host, port))

    proxies: list[RestartingProxy] = []

    def through_proxy(refusing: int | None) -> tuple[RestartingProxy, Any]:
        proxy = RestartingProxy(target, refusing)
        proxies.append(proxy)
        database = connections["default"]
        params = {**real, "host": "127.0.0.1", "port": proxy.port, "sslmode": "disable"}
        return proxy, lambda: database.get_new_connection(params)

    yield through_proxy
    for proxy in proxies:
        proxy.close()


def test_a_connection_made_while_the_server_starts_up_waits_and_succeeds(restarting: Any, settings: Any) -> None:
    settings.DATABASE_RESTART_WAIT_S = 30.0
    proxy, connect = restarting(refusing=3)

    raw = connect()
    try:
        assert raw.execute("SELECT 1").fetchone() == (1,)
    finally:
        raw.close()
    # Three "starting up" answers were waited out, and the fourth attempt reached the server.
    assert (proxy.refusals, proxy.connections) == (3, 4)


def test_a_server_that_stays_in_start_up_fails_after_the_wait(restarting: Any, settings: Any) -> None:
    settings.DATABASE_RESTART_WAIT_S = 0.5
    proxy, connect = restarting(refusing=None)

    with pytest.raises(psycopg.OperationalError, match="starting up"):
        connect()
    assert proxy.refusals >= 2


def test_with_the_wait_turned_off_the_first_refusal_fails(restarting: Any, settings: Any) -> None:
    settings.DATABASE_RESTART_WAIT_S = 0
    proxy, connect = restarting(refusing=None)

    with pytest.raises(psycopg.OperationalError, match="starting up"):
        connect()
    assert proxy.refusals == 1


def terminate_own_session_before(marker: str) -> tuple[Any, list[str]]:
    """An execute wrapper that, before the first statement containing `marker`, has the server end this session.

    As a restart does: `pg_terminate_backend` from another connection, so the statement meets a
    really closed session ("terminating connection due to administrator command").
    """
    cut: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if not cut and marker in sql:
            cut.append(sql)
            database = context["connection"]
            pid = database.connection.info.backend_pid
            with psycopg.connect(**{**database.get_connection_params(), "autocommit": True}) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
        return execute(sql, params, many, context)

    return wrapper, cut


def superuser_client() -> Any:
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)
    client.force_authenticate(get_user_model().objects.create_superuser("restart", password="pw-for-tests-only"))
    return client


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("marker", ['INSERT INTO "hub_repo"', 'INSERT INTO "events_outboxevent"', 'FROM "hub_repo"'])
def test_a_write_whose_session_a_restart_ends_before_the_commit_runs_again_and_answers_201(marker: str) -> None:
    """Cut at the write, at its event, or at the read-back of the new object: nothing was committed yet."""
    from events.models import OutboxEvent
    from hub.models import Repo

    client = superuser_client()
    wrapper, cut = terminate_own_session_before(marker)

    with connections["default"].execute_wrapper(wrapper):
        response = client.post("/repos/", {"slug": "after-restart", "name": "After"}, format="json")

    assert cut, f"no statement with {marker} was cut"
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "after-restart"
    assert Repo.objects.filter(slug="after-restart").count() == 1
    assert OutboxEvent.objects.filter(subject="org.statehub.repo.registered").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_statement_timeout_is_not_run_again() -> None:
    """A slow statement leaves the session alive: that is the database being slow, a 503, not a cut."""
    from django.db import OperationalError

    from hub.models import Repo

    client = superuser_client()
    calls: list[str] = []

    def time_out(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if 'INSERT INTO "hub_repo"' in sql:
            calls.append(sql)
            raise OperationalError("canceling statement due to statement timeout")
        return execute(sql, params, many, context)

    with connections["default"].execute_wrapper(time_out):
        response = client.post("/repos/", {"slug": "slow", "name": "Slow"}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert len(calls) == 1
    assert not Repo.objects.filter(slug="slow").exists()
