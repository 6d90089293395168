"""Older status words from workplan files and clients are mapped; unknown words are refused."""

import pytest

from hub import services
from hub.errors import ValidationFailed
from tests.factories import TaskFactory, WorkstreamFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("in_progress", "progress"),
        ("blocked", "wait"),
        ("cancelled", "cancel"),
        ("canceled", "cancel"),
        ("DONE", "done"),
    ],
)
def test_older_task_status_words_are_mapped(word, expected):
    task = TaskFactory.create(status="todo")
    services.task_update(task=task, data={"status": word})
    task.refresh_from_db()
    assert task.status == expected


@pytest.mark.parametrize("word", ["finished", "done"])
def test_older_workstream_words_mean_completed(word):
    workstream = WorkstreamFactory.create(status="active")
    services.workstream_update(workstream=workstream, data={"status": word})
    workstream.refresh_from_db()
    assert workstream.status == "completed"
    assert workstream.completed_at is not None


def test_an_unknown_status_word_is_a_validation_error_naming_the_allowed_ones():
    task = TaskFactory.create(status="todo")
    with pytest.raises(ValidationFailed, match="not a task status") as excinfo:
        services.task_update(task=task, data={"status": "someday"})
    assert excinfo.value.errors == {"status": [excinfo.value.message]}
    assert "progress" in excinfo.value.message
