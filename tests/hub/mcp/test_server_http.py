"""The streamable HTTP transport: hub bearer tokens required, writes attributed to the token's user."""

from typing import Any

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from hub.models import ProgressEvent
from tests.factories import DecisionFactory
from tests.hub.mcp.conftest import ensure_agent
from tests.tokens import token_for

pytestmark = pytest.mark.django_db(transaction=True)

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def _session_calls(url: str, token: str) -> dict[str, Any]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        written = await session.call_tool("add_progress_event", {"summary": "Over HTTP", "event_type": "note"})
        missing = await session.call_tool("get_workstream", {"workstream_id": "NOPE-WP-0001"})
        pending = await session.call_tool("list_pending_decisions", {})
        return {"tools": tools, "written": written, "missing": missing, "pending": pending}


def test_http_transport_rejects_missing_and_unknown_tokens(http_server: str) -> None:
    without = httpx2.post(http_server, json=INITIALIZE, headers=HEADERS, timeout=30)
    wrong = httpx2.post(http_server, json=INITIALIZE, headers={**HEADERS, "Authorization": "Bearer nope"}, timeout=30)

    assert without.status_code == 401
    assert without.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401


def test_http_transport_serves_the_tools_to_a_token_and_attributes_writes_to_its_user(http_server: str) -> None:
    user = ensure_agent(username="http-agent", permissions=("add_progressevent",))
    token = token_for(user)
    DecisionFactory(key="DEC-0700")

    outcome = anyio.run(_session_calls, http_server, token)

    assert len(outcome["tools"].tools) == 9
    assert not outcome["written"].is_error
    assert outcome["written"].structured_content["author"] == "http-agent"
    assert ProgressEvent.objects.get().author == "http-agent"
    assert outcome["missing"].is_error
    assert "No workstream 'NOPE-WP-0001'" in outcome["missing"].content[0].text
    assert outcome["pending"].structured_content["decisions"][0]["key"] == "DEC-0700"
