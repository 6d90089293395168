"""hub.transitions: the one status gate, keyed by model, and `status_change`, its one way in for input."""

from typing import Any

import pytest
from django.db import models
from django.db.models import Q

from hub.errors import InvalidTransition, ValidationFailed
from hub.models import Decision, Domain, DomainGoal, ProgressEvent, Repo, Task, TaskStatus, Workstream
from hub.transitions import TRANSITIONS, StatusRules, normalize_status, status_change

STATUS_MODELS: list[type[models.Model]] = [Domain, Repo, DomainGoal, Workstream, Task, Decision]


def test_every_model_with_a_status_has_its_rules_in_the_models_own_order() -> None:
    candidates: list[type[models.Model]] = [*STATUS_MODELS, ProgressEvent]
    with_status = [model for model in candidates if any(field.name == "status" for field in model._meta.get_fields())]

    assert list(TRANSITIONS) == with_status
    for model in with_status:
        status = next(field for field in model._meta.concrete_fields if field.name == "status")
        assert TRANSITIONS[model].statuses == [value for value, _ in status.choices or []]


@pytest.mark.parametrize("model", STATUS_MODELS, ids=lambda model: model.__name__)
def test_the_status_check_constraint_lists_the_enums_values_in_order(model: type[models.Model]) -> None:
    (constraint,) = [c for c in model._meta.constraints if c.name.endswith("_status_valid")]

    assert isinstance(constraint, models.CheckConstraint) and isinstance(constraint.condition, Q)
    assert constraint.condition.children == [("status__in", TRANSITIONS[model].statuses)]


def test_a_status_change_reads_no_database() -> None:
    # This module has no django_db mark: any query would fail the test.
    assert status_change(Task(status="todo"), " In_Progress ") == "progress"


def test_a_status_change_maps_the_older_words_to_the_current_ones() -> None:
    assert status_change(Task(status="todo"), "blocked") == "wait"
    assert status_change(Task(status="todo"), "cancelled") == "cancel"
    assert status_change(Task(status="todo"), "canceled") == "cancel"
    assert status_change(Workstream(status="active"), "finished") == "completed"
    assert status_change(Workstream(status="active"), "done") == "completed"


def test_an_older_word_of_one_model_means_nothing_for_another() -> None:
    with pytest.raises(ValidationFailed, match='"finished" is not a task status'):
        status_change(Task(status="todo"), "finished")


def test_staying_put_is_not_a_transition_even_from_a_final_status() -> None:
    assert status_change(Task(status="cancel"), "canceled") == "cancel"


def test_a_forbidden_move_says_what_is_allowed_from_here() -> None:
    with pytest.raises(InvalidTransition) as caught:
        status_change(DomainGoal(status="active"), "proposed")

    assert caught.value.message == (
        "A domain goal cannot go from 'active' to 'proposed' (allowed from 'active': achieved, archived, superseded)."
    )
    assert caught.value.code == "invalid_transition"
    assert caught.value.errors == {"status": [caught.value.message]}


def test_an_unknown_word_names_every_status_of_the_model() -> None:
    with pytest.raises(ValidationFailed) as caught:
        status_change(Workstream(status="active"), "someday")

    assert caught.value.message == (
        '"someday" is not a workstream status (one of: active, archived, backlog, blocked, completed, proposed, ready).'
    )


def test_a_status_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="Status must be a string, not int"):
        normalize_status(Decision, 3)


def test_the_gate_returns_the_plain_word_the_field_holds() -> None:
    assert type(normalize_status(Task, "DONE")) is str
    assert type(status_change(Workstream(status="active"), "finished")) is str


def test_rules_missing_a_status_of_their_enum_fail_when_built() -> None:
    with pytest.raises(TypeError, match="no moves listed for done, cancel"):
        StatusRules(TaskStatus, {status: frozenset() for status in Task.OPEN_STATUSES})


def test_rules_naming_another_models_status_fail_when_built() -> None:
    moves: dict[Any, frozenset[Any]] = {status: frozenset() for status in TaskStatus}
    moves[TaskStatus.DONE] = frozenset({Workstream.Status.COMPLETED})

    with pytest.raises(TypeError, match="TaskStatus: not its statuses"):
        StatusRules(TaskStatus, moves)
