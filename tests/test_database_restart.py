"""A new database connection waits out a PostgreSQL restart instead of failing the request.

Between the test and the real server sits a proxy that, for a while, answers every connection as
a restarting PostgreSQL does ("FATAL: the database system is starting up", SQLSTATE 57P03), and
afterwards forwards the bytes to the real server.
"""

import contextlib
import socket
import struct
import threading
import time
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
    """Answers "starting up" until `ready_at`, then forwards to the real server."""

    def __init__(self, target: Any, starting_up_s: float) -> None:
        self.target = target
        self.ready_at = time.monotonic() + starting_up_s
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
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            if time.monotonic() < self.ready_at:
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

    def through_proxy(starting_up_s: float) -> tuple[RestartingProxy, Any]:
        proxy = RestartingProxy(target, starting_up_s)
        proxies.append(proxy)
        database = connections["default"]
        params = {**real, "host": "127.0.0.1", "port": proxy.port, "sslmode": "disable"}
        return proxy, lambda: database.get_new_connection(params)

    yield through_proxy
    for proxy in proxies:
        proxy.close()


def test_a_connection_made_while_the_server_starts_up_waits_and_succeeds(restarting: Any, settings: Any) -> None:
    settings.DATABASE_RESTART_WAIT_S = 5.0
    proxy, connect = restarting(starting_up_s=0.6)

    started = time.monotonic()
    raw = connect()
    try:
        assert raw.execute("SELECT 1").fetchone() == (1,)
    finally:
        raw.close()
    assert proxy.refusals >= 2
    assert time.monotonic() - started >= 0.6


def test_a_server_that_stays_in_start_up_fails_after_the_wait(restarting: Any, settings: Any) -> None:
    settings.DATABASE_RESTART_WAIT_S = 0.5
    proxy, connect = restarting(starting_up_s=60)

    with pytest.raises(psycopg.OperationalError, match="starting up"):
        connect()
    assert proxy.refusals >= 2


def test_with_the_wait_turned_off_the_first_refusal_fails(restarting: Any, settings: Any) -> None:
    settings.DATABASE_RESTART_WAIT_S = 0
    proxy, connect = restarting(starting_up_s=60)

    with pytest.raises(psycopg.OperationalError, match="starting up"):
        connect()
    assert proxy.refusals == 1


@pytest.mark.django_db(transaction=True)
def test_a_committed_write_whose_read_back_is_cut_answers_its_success() -> None:
    """The restart terminates the session between the commit and the re-read of the new object."""
    from django.contrib.auth import get_user_model
    from django.db import OperationalError
    from rest_framework.test import APIClient

    from hub.models import Repo

    client = APIClient(raise_request_exception=False)
    client.force_authenticate(get_user_model().objects.create_superuser("restart", password="pw-for-tests-only"))
    cut: list[str] = []

    def terminate_after_commit(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        database = connections["default"]
        if not cut and not database.in_atomic_block and sql.startswith("SELECT") and '"hub_repo"' in sql:
            cut.append(sql)
            raise OperationalError("consuming input failed: server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connections["default"].execute_wrapper(terminate_after_commit):
        response = client.post("/repos/", {"slug": "after-restart", "name": "After"}, format="json")

    assert cut, "the read-back was not cut"
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "after-restart"
    assert Repo.objects.filter(slug="after-restart").count() == 1
