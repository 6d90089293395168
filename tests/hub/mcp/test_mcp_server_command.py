"""`manage.py mcp_server`: start-up checks, identity, stdout hygiene and failures around the tools."""

import json
import queue
import subprocess
import sys
import threading
from typing import Any

import pytest
from mcp_types import LATEST_PROTOCOL_VERSION

from hub.models import Decision
from statehub import devservers
from tests.factories import DecisionFactory
from tests.hub.mcp.conftest import ROOT, child_environment, ensure_agent, stdio_session

pytestmark = pytest.mark.django_db(transaction=True)


def _run(arguments: list[str], nats_url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "mcp_server", *arguments],
        cwd=ROOT,
        env=child_environment(nats_url),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_acting_as_an_unknown_user_stops_at_start_with_a_message(nats_server_url: str) -> None:
    finished = _run(["--as", "ghost"], nats_server_url)

    assert finished.returncode != 0
    assert "Cannot act as 'ghost': There is no user 'ghost'." in finished.stderr
    assert finished.stdout == ""


def test_acting_as_an_inactive_user_stops_at_start(nats_server_url: str) -> None:
    user = ensure_agent(username="retired")
    user.is_active = False
    user.save()

    finished = _run(["--as", "retired"], nats_server_url)

    assert finished.returncode != 0
    assert "inactive" in finished.stderr


def test_as_is_refused_for_http_where_the_token_names_the_user(nats_server_url: str) -> None:
    finished = _run(["--transport", "http", "--as", "someone"], nats_server_url)

    assert finished.returncode != 0
    assert "bearer token" in finished.stderr


def _call(identifier: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": identifier,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }


def test_stdout_carries_only_protocol_messages_even_when_calls_fail(nats_server_url: str) -> None:
    ensure_agent()
    DecisionFactory(key="DEC-0800")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "mcp_server", "--as", "mcp-agent"],
        cwd=ROOT,
        env=child_environment(nats_url=nats_server_url),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    output = process.stdout

    def pump() -> None:
        for line in output:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    stdout: list[str] = []

    def send(message: dict[str, Any] | str) -> None:
        process.stdin.write((message if isinstance(message, str) else json.dumps(message)) + "\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]

    def reply_to(message: dict[str, Any]) -> dict[str, Any]:
        send(message)
        while True:
            line = lines.get(timeout=30)
            stdout.append(line)
            reply: dict[str, Any] = json.loads(line)  # every stdout line must be a JSON-RPC message
            if reply.get("id") == message["id"]:
                return reply

    try:
        initialized = reply_to(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": LATEST_PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"},
                },
            }
        )
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send("this is not json")
        missing_argument = reply_to(_call(2, "get_workstream", {}))
        first = reply_to(_call(3, "resolve_decision", {"decision_id": "DEC-0800", "rationale": "r"}))
        second = reply_to(_call(4, "resolve_decision", {"decision_id": "DEC-0800", "rationale": "r"}))
        still_answering = reply_to(_call(5, "list_pending_decisions", {}))
    finally:
        process.stdin.close()
        exit_code = process.wait(timeout=30)
        errors = process.stderr.read() if process.stderr else ""

    assert initialized["result"]["serverInfo"]["name"] == "state-hub"
    assert missing_argument["result"]["isError"] is True
    assert first["result"].get("isError") is not True, errors
    assert second["result"]["isError"] is True
    assert "invalid_transition" in second["result"]["content"][0]["text"]
    assert still_answering["result"]["structuredContent"]["count"] == 0
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in stdout)
    assert "Traceback" not in "".join(stdout)
    assert Decision.objects.get(key="DEC-0800").status == Decision.Status.RESOLVED
    assert exit_code == 0, errors


def test_without_a_user_reads_work_and_writes_are_refused(nats_server_url: str) -> None:
    DecisionFactory(key="DEC-0900")

    with stdio_session([], child_environment(nats_server_url)) as client:
        pending = client.ok("list_pending_decisions")
        refused = client.error("add_progress_event", {"summary": "s", "event_type": "note"})
        also_refused = client.error(
            "resolve_decision", {"decision_id": "DEC-0900", "rationale": "r", "decided_by": "bob"}
        )

    assert [decision["key"] for decision in pending["decisions"]] == ["DEC-0900"]
    assert "Writes need an identity" in refused and "Writes need an identity" in also_refused
    assert Decision.objects.get(key="DEC-0900").status == Decision.Status.OPEN


def test_a_lost_database_is_a_tool_error_not_a_crash(nats_server_url: str) -> None:
    environment = child_environment(nats_server_url)
    environment["DATABASE_URL"] = f"postgres://nobody@127.0.0.1:{devservers.free_port()}/nowhere"

    with stdio_session([], environment) as client:
        first = client.error("list_pending_decisions")
        second = client.error("get_next_steps")

    assert "database_unavailable" in first and "database_unavailable" in second
