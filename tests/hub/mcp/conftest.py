"""Fixtures that run `manage.py mcp_server` as a real subprocess against the test database."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp_types import CallToolResult, Tool

from statehub import devservers
from tests import childprocess

ROOT = Path(__file__).resolve().parents[3]
AGENT = "mcp-agent"
WRITE_PERMISSIONS = ("change_decision", "add_progressevent")


def child_environment(nats_url: str) -> dict[str, str]:
    """Environment for a server process: the test database and NATS, no broker, no MCP user from outside."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"STATEHUB_MCP_USER", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(
        DATABASE_URL=childprocess.database_url(),
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "test-secret"),
        NATS_URL=nats_url,
        # The fixture repos and the tests' temporary directories (DESIGN §8: repos are read only there).
        STATEHUB_REPO_ROOTS=",".join([str(ROOT / "tests" / "fixtures"), tempfile.gettempdir()]),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return environment


def ensure_agent(*, permissions: tuple[str, ...] = WRITE_PERMISSIONS, username: str = AGENT) -> Any:
    """The user the stdio server acts as, holding exactly the given hub permissions."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="hub", codename__in=permissions))
    return user


class McpClient:
    """A synchronous face over an SDK `ClientSession`, for plain pytest functions."""

    def __init__(self, portal: BlockingPortal, session: ClientSession, log: Any) -> None:
        self.portal = portal
        self.session = session
        self.log = log

    def log_tail(self, characters: int = 4000) -> str:
        """The end of the server's stderr, for failure messages."""
        self.log.seek(0)
        return str(self.log.read()[-characters:])

    def list_tools(self) -> dict[str, Tool]:
        return {tool.name: tool for tool in self.portal.call(self.session.list_tools).tools}

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        return self.portal.call(lambda: self.session.call_tool(name, arguments or {}, read_timeout_seconds=60))

    def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool that must succeed and return its structured result."""
        result = self.call(name, arguments)
        assert not result.is_error, f"{result.content}\n--- server log ---\n{self.log_tail()}"
        assert result.structured_content is not None
        return result.structured_content

    def error(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        """Call a tool that must fail and return the error text the agent sees."""
        result = self.call(name, arguments)
        assert result.is_error, result.structured_content
        return " ".join(getattr(block, "text", "") for block in result.content)


@contextmanager
def stdio_session(arguments: list[str], environment: dict[str, str]) -> Iterator[McpClient]:
    """Start `manage.py mcp_server ARGUMENTS` and talk to it over stdio with the SDK's client."""
    parameters = StdioServerParameters(
        command=sys.executable, args=["manage.py", "mcp_server", *arguments], env=environment, cwd=str(ROOT)
    )
    with stdio_server_session(parameters) as client:
        yield client


@contextmanager
def stdio_server_session(parameters: StdioServerParameters) -> Iterator[McpClient]:
    """Start the server `parameters` describe, as an MCP client would, and talk to it over stdio."""
    with ExitStack() as stack:
        log = stack.enter_context(tempfile.TemporaryFile("w+"))
        portal = stack.enter_context(start_blocking_portal())
        read, write = stack.enter_context(portal.wrap_async_context_manager(stdio_client(parameters, errlog=log)))
        session = stack.enter_context(portal.wrap_async_context_manager(ClientSession(read, write)))
        portal.call(session.initialize)
        yield McpClient(portal, session, log)


@pytest.fixture(scope="module")
def mcp_client(django_db_setup: None, django_db_blocker: Any, nats_server_url: str) -> Iterator[McpClient]:
    """One `manage.py mcp_server --as mcp-agent` subprocess over stdio for the whole module."""
    with django_db_blocker.unblock():
        ensure_agent()
    with stdio_session(["--as", AGENT], child_environment(nats_server_url)) as client:
        yield client


@pytest.fixture
def agent(transactional_db: None) -> Any:
    """The server's user, present with write permissions for this test (each test's data is flushed after it)."""
    return ensure_agent()


@pytest.fixture
def http_server(transactional_db: None, nats_server_url: str) -> Iterator[str]:
    """`manage.py mcp_server --transport http` on a free port; yields the endpoint URL."""
    port = devservers.free_port()
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "mcp_server", "--transport", "http", "--port", str(port)],
            cwd=ROOT,
            env=child_environment(nats_server_url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        pytest.fail(f"HTTP MCP server did not start:\n{log.read()}")
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
