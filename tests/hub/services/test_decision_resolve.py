"""Resolving a decision: the rules, the milestone, and the event."""

import pytest

from events.models import OutboxEvent
from hub import services
from hub.errors import InvalidTransition, ValidationFailed
from hub.models import ProgressEvent
from tests.factories import DecisionFactory, RepoFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db


def test_resolving_sets_the_choice_logs_a_milestone_and_records_one_event():
    workstream = WorkstreamFactory.create(key="CUST-WP-0040")
    decision = DecisionFactory.create(
        key="DEC-0012", options=["nats", "kafka"], workstream=workstream, repo=workstream.repo
    )

    resolved = services.decision_resolve(
        decision=decision, rationale="Already run it", chosen_option="nats", decided_by="alice"
    )

    assert resolved.status == "resolved"
    assert resolved.chosen_option == "nats"
    assert resolved.resolved_at is not None
    milestone = ProgressEvent.objects.get()
    assert milestone.event_type == "milestone"
    assert milestone.workstream == workstream
    assert milestone.author == "alice"
    event = OutboxEvent.objects.get()
    assert event.subject == "org.statehub.decision.resolved"
    assert event.envelope["attributes"]["workstream_key"] == "CUST-WP-0040"
    assert event.envelope["attributes"]["chosen_option"] == "nats"


def test_resolving_twice_is_an_invalid_transition_and_records_one_event():
    decision = DecisionFactory.create()
    services.decision_resolve(decision=decision, rationale="r", decided_by="alice")
    with pytest.raises(InvalidTransition):
        services.decision_resolve(decision=decision, rationale="again", decided_by="bob")
    assert OutboxEvent.objects.count() == 1
    assert ProgressEvent.objects.count() == 1


def test_the_chosen_option_must_be_one_of_the_options():
    decision = DecisionFactory.create(options=["a", "b"])
    with pytest.raises(ValidationFailed, match="not one of the options"):
        services.decision_resolve(decision=decision, rationale="r", decided_by="alice", chosen_option="c")
    decision.refresh_from_db()
    assert decision.status == "open"
    assert OutboxEvent.objects.count() == 0


def test_a_rationale_is_required():
    decision = DecisionFactory.create()
    with pytest.raises(ValidationFailed, match="rationale"):
        services.decision_resolve(decision=decision, rationale="  ", decided_by="alice")


def test_absent_relations_are_null_in_the_event():
    decision = DecisionFactory.create(repo=None, workstream=None)
    services.decision_resolve(decision=decision, rationale="r", decided_by="alice")
    attributes = OutboxEvent.objects.get().envelope["attributes"]
    assert attributes["repo_slug"] is None
    assert attributes["workstream_key"] is None
    assert attributes["chosen_option"] is None


def test_a_decision_cannot_be_created_resolved():
    with pytest.raises(ValidationFailed):
        services.decision_create(data={"key": "DEC-1", "title": "t", "status": "resolved"})


def test_repo_is_kept_when_given():
    repo = RepoFactory.create(slug="state-hub")
    decision = DecisionFactory.create(repo=repo)
    services.decision_resolve(decision=decision, rationale="r", decided_by="alice")
    assert OutboxEvent.objects.get().envelope["attributes"]["repo_slug"] == "state-hub"


def test_the_answer_of_a_resolved_decision_cannot_be_edited_afterwards():
    decision = DecisionFactory.create(options=["a", "b"])
    services.decision_resolve(decision=decision, rationale="r", decided_by="alice", chosen_option="a")
    with pytest.raises(ValidationFailed, match="set by resolving"):
        services.decision_update(decision=decision, data={"rationale": "rewritten"})
    with pytest.raises(InvalidTransition):
        services.decision_update(decision=decision, data={"status": "resolved", "rationale": "again"})
    with pytest.raises(ValidationFailed, match="keep the chosen option"):
        services.decision_update(decision=decision, data={"options": ["b", "c"]})
    decision.refresh_from_db()
    assert (decision.rationale, decision.options) == ("r", ["a", "b"])
