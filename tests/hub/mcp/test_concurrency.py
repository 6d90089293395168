"""One MCP client's long tool call never blocks another client's calls (DESIGN §9)."""

import contextlib
import time
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.factories import RepoFactory
from tests.hub.mcp.conftest import ensure_agent
from tests.tokens import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def _slow_checkout(root: Path) -> Path:
    """A checkout whose consistency check takes seconds: each file holds YAML up to the per-file node budget."""
    workplans = root / "workplans"
    workplans.mkdir(parents=True)
    heavy = "".join(f"  - {{a: {i}, b: c}}\n" for i in range(7000))
    for number in range(1, 37):
        (workplans / f"SLOW-WP-{number:04d}.md").write_text(f"---\nid: SLOW-WP-{number:04d}\nnotes:\n{heavy}---\n")
    return root


async def _session(url: str, token: str, stack: contextlib.AsyncExitStack) -> ClientSession:
    http = await stack.enter_async_context(httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60))
    read, write = await stack.enter_async_context(streamable_http_client(url, http_client=http))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def _long_and_short_calls(url: str, token: str) -> list[tuple[str, float, bool]]:
    finished: list[tuple[str, float, bool]] = []
    async with contextlib.AsyncExitStack() as stack:
        first = await _session(url, token, stack)
        second = await _session(url, token, stack)
        started = time.monotonic()

        async def long_call() -> None:
            result = await first.call_tool("check_repo_consistency", {"repo_slug": "slow"})
            finished.append(("check_repo_consistency", time.monotonic() - started, result.is_error))

        async def short_call() -> None:
            await anyio.sleep(0.5)  # while the long call runs
            result = await second.call_tool("get_next_steps", {})
            finished.append(("get_next_steps", time.monotonic() - started, result.is_error))

        async with anyio.create_task_group() as group:
            group.start_soon(long_call)
            group.start_soon(short_call)
    return finished


def test_a_long_consistency_check_does_not_block_another_clients_call(http_server: str, tmp_path: Path) -> None:
    RepoFactory(slug="slow", local_path=str(_slow_checkout(tmp_path / "slow")))
    token = token_for(ensure_agent(username="two-clients", permissions=()))

    finished = anyio.run(_long_and_short_calls, http_server, token)

    # The short call, sent while the long one runs (seconds of parsing), is answered first: had the
    # server served one call at a time, it would have waited for the long one and come second.
    assert [name for name, _, _ in finished] == ["get_next_steps", "check_repo_consistency"]
    assert not any(is_error for _, _, is_error in finished)
