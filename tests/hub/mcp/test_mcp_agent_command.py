"""`manage.py mcp_agent NAME`: the agent's user and token, and client configurations that work as printed."""

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from mcp import ClientSession, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from hub.access import MCP_WRITE_TOOLS
from hub.mcp.identity import WRITE_PERMISSIONS
from hub.mcp.tools import WRITE_TOOLS
from hub.models import ApiToken, DomainAccess, ProgressEvent, Task, Workstream
from hub.tokens import token_verify
from tests.factories import DomainFactory, TaskFactory, WorkstreamFactory
from tests.hub.mcp.conftest import ROOT, child_environment, stdio_server_session

pytestmark = pytest.mark.django_db(transaction=True)


def printed_configurations(output: str) -> list[dict[str, Any]]:
    """The JSON blocks the command printed, in order: each from a line `{` to a line `}`."""
    return [json.loads(block) for block in re.findall(r"^\{\n.*?^\}$", output, re.M | re.S)]


def run_command(*arguments: str) -> str:
    out = io.StringIO()
    call_command("mcp_agent", *arguments, stdout=out)
    return out.getvalue()


def next_task() -> Task:
    workstream = WorkstreamFactory.create(key="AGENT-WP-0001", status=Workstream.Status.ACTIVE)
    task: Task = TaskFactory.create(key="AGENT-WP-0001-T01", workstream=workstream, status=Task.Status.TODO)
    return task


def test_the_agent_permissions_are_those_of_the_sanctioned_writes() -> None:
    assert set(WRITE_PERMISSIONS) == {tool.__name__ for tool in WRITE_TOOLS}


def printed_token(output: str) -> str:
    return re.search(r"^Token: (\S+)", output, re.M).group(1)  # type: ignore[union-attr]


def test_it_creates_a_user_holding_the_write_permissions_and_keeps_its_token_on_a_second_run() -> None:
    first = run_command("agent-bot")
    second = run_command("agent-bot")

    user = get_user_model().objects.get(username="agent-bot")
    token = ApiToken.objects.get(user=user)
    assert all(user.has_perm(permission) for permission in WRITE_PERMISSIONS.values())
    assert not (user.is_staff or user.is_superuser or user.has_usable_password())
    assert first.startswith("Created MCP agent user 'agent-bot' with hub.add_progressevent, hub.change_decision.")
    secret = printed_token(first)
    assert f"Token: {secret}  (new)" in first
    assert token_verify(secret) == token
    assert (token.name, token.mcp_tools, token.read_only) == ("mcp", sorted(MCP_WRITE_TOOLS), False)
    assert second.startswith("Updated MCP agent user 'agent-bot'")
    # Stored hashed: a kept token's secret cannot be printed again.
    assert "(kept from an earlier run, its secret shown then only; --rotate-token replaces it)" in second
    assert secret not in second
    assert ApiToken.objects.filter(user=user).count() == 1


def test_rotating_the_token_replaces_it_and_prints_the_new_one_everywhere() -> None:
    old = printed_token(run_command("agent-bot"))

    output = run_command("agent-bot", "--rotate-token")

    new = printed_token(output)
    assert new != old
    assert token_verify(new).user.username == "agent-bot"
    assert not ApiToken.objects.filter(token_key=old[:15]).exists()
    assert f"Token: {new}  (new; the previous token no longer works)" in output
    _, http = printed_configurations(output)
    assert http["mcpServers"]["state-hub"]["headers"] == {"Authorization": f"Bearer {new}"}
    assert old not in output


def test_an_agent_of_a_domain_is_its_editor_with_a_token_scoped_to_it_and_no_org_wide_permission() -> None:
    DomainFactory(slug="alpha")

    output = run_command("agent-bot", "--domain", "alpha")

    user = get_user_model().objects.get(username="agent-bot")
    token = token_verify(printed_token(output))
    assert output.startswith("Created MCP agent user 'agent-bot' with editor of alpha.")
    assert not any(user.has_perm(permission) for permission in WRITE_PERMISSIONS.values())
    assert list(DomainAccess.objects.filter(user=user).values_list("domain__slug", "role")) == [("alpha", "editor")]
    assert [domain.slug for domain in token.domains.all()] == ["alpha"]
    assert token.mcp_tools == sorted(MCP_WRITE_TOOLS)


def test_an_unknown_domain_is_a_message_and_creates_nothing() -> None:
    with pytest.raises(CommandError, match="No such domain: nowhere"):
        run_command("agent-bot", "--domain", "nowhere")

    assert not get_user_model().objects.exists()


def test_an_existing_user_keeps_its_other_permissions() -> None:
    user = get_user_model().objects.create(username="agent-bot")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="hub", codename="view_task"))

    run_command("agent-bot")

    user = get_user_model().objects.get(username="agent-bot")
    assert user.has_perm("hub.view_task")
    assert user.has_perm("hub.change_decision")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["bad name!"], "'bad name!' is not a valid username: Enter a valid username."),
        (["agent-bot", "--port", "0"], "--port must be between 1 and 65535, not 0."),
    ],
)
def test_bad_arguments_are_a_message_and_create_nothing(arguments: list[str], message: str) -> None:
    with pytest.raises(CommandError) as raised:
        run_command(*arguments)

    assert str(raised.value).startswith(message)
    assert not get_user_model().objects.exists()


def test_an_inactive_user_is_refused_not_reenabled() -> None:
    get_user_model().objects.create(username="agent-bot", is_active=False)

    with pytest.raises(CommandError, match="User 'agent-bot' is inactive"):
        run_command("agent-bot")

    assert not get_user_model().objects.get(username="agent-bot").is_active
    assert not ApiToken.objects.exists()


def test_the_printed_stdio_configuration_runs_a_server_that_answers_get_next_steps(
    nats_server_url: str, tmp_path: Path
) -> None:
    task = next_task()
    # As `python3 -m statehub.dev manage mcp_agent NAME` runs it: a process of its own, debug settings.
    environment = child_environment(nats_server_url) | {"DJANGO_DEBUG": "true"}
    environment.pop("DJANGO_SECRET_KEY", None)
    finished = subprocess.run(
        [sys.executable, "manage.py", "mcp_agent", "stdio-bot"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    stdio, _ = printed_configurations(finished.stdout)
    entry = stdio["mcpServers"]["state-hub"]
    assert Path(entry["command"]).is_absolute()
    assert entry["args"] == [str(ROOT / "manage.py"), "mcp_server", "--as", "stdio-bot"]

    # As a client starts it: exactly the printed command, arguments and environment, from elsewhere.
    parameters = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry["env"], cwd=tmp_path)
    with stdio_server_session(parameters) as client:
        steps = client.ok("get_next_steps")
        written = client.ok("add_progress_event", {"summary": "Configured by copy and paste", "event_type": "note"})

    assert [item["task"] for item in steps["items"]] == [task.key]
    assert written["author"] == "stdio-bot"
    assert ProgressEvent.objects.get().author == "stdio-bot"


async def _next_steps_over_http(entry: dict[str, Any]) -> Any:
    async with (
        httpx2.AsyncClient(headers=entry["headers"], timeout=30) as http,
        streamable_http_client(entry["url"], http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await session.call_tool("get_next_steps", {})


def test_the_printed_http_configuration_reaches_a_running_server_as_the_agent(http_server: str) -> None:
    task = next_task()
    port = http_server.rsplit(":", 1)[1].split("/", 1)[0]

    _, http = printed_configurations(run_command("http-bot", "--port", port))
    entry = http["mcpServers"]["state-hub"]
    result = anyio.run(_next_steps_over_http, entry)

    assert entry["url"] == http_server
    assert entry["type"] == "http"
    assert not result.is_error, result.content
    assert [item["task"] for item in result.structured_content["items"]] == [task.key]
