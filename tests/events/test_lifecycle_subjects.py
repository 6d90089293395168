"""Each of the five lifecycle transitions puts exactly one envelope on the stream (DESIGN §5)."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from events.models import OutboxEvent
from events.subjects import (
    DECISION_RESOLVED,
    DOMAIN_GOAL_ACTIVATED,
    ENVELOPE_VERSION,
    PUBLISHER,
    REPO_REGISTERED,
    TASK_STALE,
    WORKSTREAM_COMPLETED,
)
from hub import services
from hub.models import Workstream
from hub.services.maintenance import stale_tasks_cancel_batch
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    TaskFactory,
    WorkstreamFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.nats]


def register_repo() -> dict[str, Any]:
    domain = DomainFactory.create(slug="custodian")
    repo = services.repo_register(
        data={"slug": "state-hub", "name": "State Hub", "domain": domain, "remote_url": "git@x:org/state-hub.git"}
    )
    return {
        "repo_id": str(repo.id),
        "repo_slug": "state-hub",
        "domain_slug": "custodian",
        "remote_url": "git@x:org/state-hub.git",
        "local_path": "",
        "name": "State Hub",
    }


def complete_workstream() -> dict[str, Any]:
    workstream = WorkstreamFactory.create(
        key="CUST-WP-0040", status=Workstream.Status.ACTIVE, repo__domain__slug="custodian"
    )
    TaskFactory.create(workstream=workstream, status="done")
    TaskFactory.create(workstream=workstream, status="cancel")
    TaskFactory.create(workstream=workstream, status="todo")
    workstream = services.workstream_update(workstream=workstream, data={"status": "completed"})
    return {
        "workstream_id": str(workstream.id),
        "workstream_key": "CUST-WP-0040",
        "title": workstream.title,
        "repo_slug": workstream.repo.slug,
        "domain_slug": "custodian",
        "previous_status": "active",
        "tasks": {"total": 3, "done": 1, "cancel": 1, "open": 1},
    }


def resolve_decision() -> dict[str, Any]:
    decision = DecisionFactory.create(key="DEC-0012", options=["left", "right"])
    decision = services.decision_resolve(
        decision=decision, rationale="Shorter.", decided_by="ana", chosen_option="left"
    )
    return {
        "decision_id": str(decision.id),
        "decision_key": "DEC-0012",
        "title": decision.title,
        "rationale": "Shorter.",
        "chosen_option": "left",
        "decided_by": "ana",
        "repo_slug": None,
        "workstream_key": None,
    }


def activate_goal() -> dict[str, Any]:
    domain = DomainFactory.create(slug="custodian")
    DomainGoalFactory.create(key="old-goal", domain=domain, status="active")
    goal = DomainGoalFactory.create(key="custodian-automation", domain=domain)
    goal = services.domain_goal_activate(goal=goal)
    return {
        "goal_id": str(goal.id),
        "goal_key": "custodian-automation",
        "domain_slug": "custodian",
        "title": goal.title,
        "previous_status": "proposed",
        "superseded_goal_key": "old-goal",
    }


def cancel_stale_task() -> dict[str, Any]:
    task = TaskFactory.create(key="CUST-WP-0040-T05", status="progress", workstream__status=Workstream.Status.COMPLETED)
    stale_tasks_cancel_batch(task_ids=[task.pk])
    task.refresh_from_db()
    return {
        "task_id": str(task.id),
        "task_key": "CUST-WP-0040-T05",
        "title": task.title,
        "workstream_key": task.workstream.key,
        "workstream_status": "completed",
        "repo_slug": task.workstream.repo.slug,
        "previous_status": "progress",
        "reason": "workstream_closed",
    }


TRANSITIONS: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    (REPO_REGISTERED.name, register_repo, ""),
    (WORKSTREAM_COMPLETED.name, complete_workstream, "completed_at"),
    (DECISION_RESOLVED.name, resolve_decision, "resolved_at"),
    (DOMAIN_GOAL_ACTIVATED.name, activate_goal, "activated_at"),
    (TASK_STALE.name, cancel_stale_task, "canceled_at"),
]


@pytest.mark.parametrize(("subject", "transition", "time_attribute"), TRANSITIONS, ids=[t[0] for t in TRANSITIONS])
def test_each_transition_puts_exactly_one_envelope_on_the_stream(
    subject: str,
    transition: Callable[[], dict[str, Any]],
    time_attribute: str,
    jetstream: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        expected = transition()

    messages = jetstream.messages()
    assert len(messages) == 1
    message = messages[0]
    envelope = message.envelope
    assert message.subject == subject
    assert set(envelope) == {"id", "type", "version", "timestamp", "publisher", "attributes"}
    assert envelope["type"] == subject
    assert envelope["version"] == ENVELOPE_VERSION == "1.0"
    assert envelope["publisher"] == PUBLISHER == "state-hub"
    assert message.headers["Nats-Msg-Id"] == envelope["id"]
    assert uuid.UUID(envelope["id"]).version == 4
    attributes = dict(envelope["attributes"])
    if time_attribute:
        # The moment of the change is both the envelope timestamp and the attribute.
        assert attributes.pop(time_attribute) == envelope["timestamp"]
    assert attributes == expected
    row = OutboxEvent.objects.get()
    assert str(row.id) == envelope["id"]
    assert row.status == OutboxEvent.Status.PUBLISHED
    assert row.stream_seq == message.seq
    assert row.published_at is not None


def test_completing_an_already_completed_workstream_records_nothing(
    jetstream: Any, django_capture_on_commit_callbacks: Any
) -> None:
    workstream = WorkstreamFactory.create(status=Workstream.Status.COMPLETED)
    with django_capture_on_commit_callbacks(execute=True):
        services.workstream_update(workstream=workstream, data={"status": "completed", "title": "Renamed"})

    assert OutboxEvent.objects.count() == 0
    assert jetstream.count() == 0


def test_repo_of_no_domain_reports_null_domain_slug(jetstream: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.repo_register(data={"slug": "loose", "name": "Loose"})

    [message] = jetstream.messages()
    assert message.envelope["attributes"]["domain_slug"] is None
