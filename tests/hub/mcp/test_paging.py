"""MCP list tools answer in bounded pages: `limit`, `cursor`, `total`, `has_more`, `next_cursor`."""

import base64
import json
from typing import Any, cast

import pytest

from hub.models import Decision, Task, Workstream
from tests.factories import DecisionFactory, RepoFactory, TaskFactory, WorkstreamFactory
from tests.hub.mcp.conftest import McpClient

pytestmark = pytest.mark.django_db(transaction=True)

LIST_TOOLS = {
    "get_next_steps": 20,
    "list_workstreams": 50,
    "list_tasks": 50,
    "list_pending_decisions": 50,
    "get_recent_progress": 20,
}
ITEMS = {
    "get_next_steps": "items",
    "list_workstreams": "workstreams",
    "list_tasks": "tasks",
    "list_pending_decisions": "decisions",
    "get_recent_progress": "events",
}


NEXT_STEPS = "-decision_boost,status_rank,priority_rank,workstream__priority,order,key"


def _forged(ordering: str, values: list[Any]) -> str:
    """A cursor shaped as the hub writes them, holding `values`."""
    return base64.urlsafe_b64encode(json.dumps({"o": ordering, "v": values}).encode()).decode()


def _walk(mcp_client: McpClient, tool: str, arguments: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Every answer of a tool from the first page to the last, following next_cursor."""
    answers = [mcp_client.ok(tool, {**arguments, "limit": limit})]
    while answers[-1]["next_cursor"] is not None:
        assert len(answers) < 50, "the pages never end"
        answers.append(mcp_client.ok(tool, {**arguments, "limit": limit, "cursor": answers[-1]["next_cursor"]}))
    return answers


def test_list_tools_take_limit_and_cursor_with_their_defaults_and_describe_paging(mcp_client: McpClient) -> None:
    tools = mcp_client.list_tools()

    for name, default in LIST_TOOLS.items():
        properties = tools[name].input_schema["properties"]
        assert properties["limit"]["default"] == default, name
        assert properties["limit"]["minimum"] == 1, name
        assert properties["limit"]["maximum"] == (500 if name == "get_recent_progress" else 200), name
        assert "cursor" not in tools[name].input_schema.get("required", []), name
        description = tools[name].description or ""
        assert "next_cursor" in description and "total" in description and "64 KB" in description, name
        output = tools[name].output_schema or {}
        assert {"count", "total", "has_more", "next_cursor"} <= set(output["required"]), name


def test_walking_the_workstream_pages_returns_every_workstream_once_in_list_order(
    mcp_client: McpClient, agent: object
) -> None:
    repo = RepoFactory.create(slug="state-hub")
    for n, priority in enumerate([3, 1, 2, 1, 5, 2, 4]):
        workstream = WorkstreamFactory(key=f"HUB-WP-{n:04d}", repo=repo, priority=priority)
        TaskFactory(workstream=workstream, status=Task.Status.DONE)
    WorkstreamFactory(key="ELSE-WP-0001")
    whole = mcp_client.ok("list_workstreams", {"repo": "state-hub"})

    pages = _walk(mcp_client, "list_workstreams", {"repo": "state-hub"}, limit=3)

    walked = [w["key"] for page in pages for w in page["workstreams"]]
    assert walked == [w["key"] for w in whole["workstreams"]]
    assert walked == list(
        Workstream.objects.filter(repo=repo).order_by("priority", "key").values_list("key", flat=True)
    )
    assert [page["count"] for page in pages] == [3, 3, 1]
    assert {page["total"] for page in pages} == {7}
    assert [page["has_more"] for page in pages] == [True, True, False]
    assert whole["next_cursor"] is None and whole["has_more"] is False
    assert all(
        w["task_counts"] == {"total": 1, "open": 0, "wait": 0, "todo": 0, "progress": 0, "done": 1, "cancel": 0}
        for page in pages
        for w in page["workstreams"]
    )


def test_walking_the_next_steps_pages_follows_the_next_steps_order(mcp_client: McpClient, agent: object) -> None:
    for n in range(4):
        workstream = WorkstreamFactory(key=f"NS-WP-{n:04d}", priority=n % 2)
        for t, (status, priority) in enumerate([("todo", "low"), ("progress", "critical"), ("todo", "high")]):
            TaskFactory(key=f"NS-WP-{n:04d}-T{t}", workstream=workstream, status=status, priority=priority, order=t)
    whole = mcp_client.ok("get_next_steps", {"limit": 200})

    pages = _walk(mcp_client, "get_next_steps", {}, limit=5)

    assert [item["task"] for page in pages for item in page["items"]] == [item["task"] for item in whole["items"]]
    assert [page["count"] for page in pages] == [5, 5, 2]
    assert {page["total"] for page in pages} == {12}


def test_a_page_starts_after_the_last_item_seen_even_when_earlier_items_are_gone(
    mcp_client: McpClient, agent: object
) -> None:
    for n in range(6):
        DecisionFactory(key=f"DEC-{n:04d}")
    first = mcp_client.ok("list_pending_decisions", {"limit": 3})
    Decision.objects.filter(key__in=["DEC-0000", "DEC-0001"]).update(status=Decision.Status.SUPERSEDED)

    second = mcp_client.ok("list_pending_decisions", {"limit": 3, "cursor": first["next_cursor"]})

    assert [d["key"] for d in first["decisions"]] == ["DEC-0000", "DEC-0001", "DEC-0002"]
    assert [d["key"] for d in second["decisions"]] == ["DEC-0003", "DEC-0004", "DEC-0005"]
    assert second["total"] == 4 and second["has_more"] is False and second["next_cursor"] is None


def test_tasks_and_progress_pages_cover_every_item_once(mcp_client: McpClient, agent: object) -> None:
    workstream = WorkstreamFactory(key="CUST-WP-0070")
    for n in range(5):
        TaskFactory(key=f"CUST-WP-0070-T{n}", workstream=workstream, order=n // 2)
    for n in range(5):
        mcp_client.ok("add_progress_event", {"summary": f"entry {n}", "event_type": "note"})

    tasks = _walk(mcp_client, "list_tasks", {"workstream_id": "CUST-WP-0070"}, limit=2)
    progress = _walk(mcp_client, "get_recent_progress", {}, limit=2)

    assert [t["key"] for page in tasks for t in page["tasks"]] == [f"CUST-WP-0070-T{n}" for n in range(5)]
    assert [e["summary"] for page in progress for e in page["events"]] == [f"entry {n}" for n in reversed(range(5))]
    assert {page["total"] for page in tasks + progress} == {5}


def test_a_default_answer_stops_before_64_kb_and_hands_out_a_cursor_for_the_rest(
    mcp_client: McpClient, agent: object
) -> None:
    Decision.objects.bulk_create(
        Decision(key=f"DEC-{n:04d}", title=f"Long decision {n}", question="Why? " * 400, options=["a", "b"])
        for n in range(60)
    )

    first = mcp_client.call("list_pending_decisions")
    answer = mcp_client.ok("list_pending_decisions")
    rest = _walk(mcp_client, "list_pending_decisions", {}, limit=50)

    text = " ".join(getattr(block, "text", "") for block in first.content)
    assert len(text.encode()) <= 64 * 1024
    assert len(json.dumps(first.structured_content).encode()) <= 64 * 1024
    assert 0 < answer["count"] < 50 and answer["has_more"] is True and answer["total"] == 60
    assert sorted(d["key"] for page in rest for d in page["decisions"]) == [f"DEC-{n:04d}" for n in range(60)]


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("list_workstreams", {"cursor": "not-a-cursor"}, "cursor"),
        # Well-formed, but with values no row holds: past the column's range, a NUL, a date that does not exist.
        ("list_workstreams", {"cursor": _forged("priority,key", [10**30, "WS-1"])}, "invalid_cursor: cursor"),
        ("get_next_steps", {"cursor": _forged(NEXT_STEPS, [True, 0, 0, 1, 2, "a\x00b"])}, "invalid_cursor: cursor"),
        ("list_pending_decisions", {"cursor": _forged("created_at,key", ["2026-99-99", "D"])}, "invalid_cursor"),
        ("list_pending_decisions", {"limit": 201}, "limit"),
        ("get_next_steps", {"limit": 0}, "limit"),
    ],
)
def test_a_bad_cursor_or_limit_is_a_tool_error(
    mcp_client: McpClient, agent: object, tool: str, arguments: dict[str, Any], message: str
) -> None:
    assert message in mcp_client.error(tool, arguments)


def test_a_cursor_of_another_list_is_refused(mcp_client: McpClient, agent: object) -> None:
    for n in range(3):
        DecisionFactory(key=f"DEC-{n:04d}")
        WorkstreamFactory(key=f"WS-WP-{n:04d}")
    cursor = mcp_client.ok("list_pending_decisions", {"limit": 1})["next_cursor"]

    assert "cursor is not one this list gave out" in mcp_client.error("list_workstreams", {"cursor": cursor})


def test_a_total_is_exact_up_to_1000_matches_and_an_estimate_of_at_least_1001_above(
    mcp_client: McpClient, agent: object
) -> None:
    workstream = cast(Workstream, WorkstreamFactory(status="active"))
    Task.objects.bulk_create(
        Task(key=f"BIG-T{number:04d}", workstream=workstream, title="t", status="todo") for number in range(1000)
    )

    assert mcp_client.ok("list_tasks", {"workstream_id": workstream.key})["total"] == 1000
    Task.objects.create(key="BIG-T1000", workstream=workstream, title="t", status="todo")
    answer = mcp_client.ok("get_next_steps", {})
    assert answer["total"] >= 1001
    assert answer["has_more"] is True
    assert mcp_client.ok("list_tasks", {"workstream_id": workstream.key})["total"] >= 1001
