"""MCP `resolve_decision` refuses an over-long rationale with a clear tool error, like every other door."""

from events.models import OutboxEvent
from hub.models import RATIONALE_MAX_LENGTH, Decision
from tests.factories import DecisionFactory
from tests.hub.mcp.conftest import McpClient


def test_an_over_long_rationale_is_a_tool_error_and_changes_nothing(mcp_client: McpClient, agent: object) -> None:
    decision: Decision = DecisionFactory.create(key="DEC-0200")

    message = mcp_client.error(
        "resolve_decision", {"decision_id": "DEC-0200", "rationale": "r" * (RATIONALE_MAX_LENGTH + 1)}
    )

    assert f"at most {RATIONALE_MAX_LENGTH} characters" in message
    decision.refresh_from_db()
    assert decision.status == Decision.Status.OPEN
    assert not OutboxEvent.objects.exists()
