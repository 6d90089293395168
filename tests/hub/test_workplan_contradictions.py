"""A status set in the hub against the workstream's workplan file: named before it is made, refused unless meant."""

from pathlib import Path

import pytest

from events.models import OutboxEvent
from hub import services
from hub.errors import ContradictsWorkplan
from hub.models import Repo, Workstream
from hub.reconcile import reconcile_repo
from hub.workplan_contradictions import workstream_status_contradiction, workstreams_status_contradictions
from tests.factories import WorkstreamFactory
from tests.hub.reconcile.support import register

pytestmark = pytest.mark.django_db

PLAN = "workplans/CUST-WP-0040-delegate-maintenance.md"


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """The clean fixture repo, synced: CUST-WP-0040 is `active`, as its file says."""
    repo = register(tmp_path, "clean")
    reconcile_repo(repo=repo, fix=True)
    return repo


def _workstream() -> Workstream:
    return Workstream.objects.select_related("repo").get(key="CUST-WP-0040")


def test_completing_a_workstream_its_file_calls_active_is_a_standing_contradiction(repo: Repo) -> None:
    contradiction = workstream_status_contradiction(workstream=_workstream(), status="completed")

    assert contradiction is not None
    assert (contradiction.source_path, contradiction.file_status, contradiction.standing) == (PLAN, "active", True)
    assert PLAN in contradiction.message
    assert "every sync will report a conflict until the file says 'completed'" in contradiction.message


def test_a_status_the_sync_can_move_back_is_a_contradiction_that_does_not_stand(repo: Repo) -> None:
    contradiction = workstream_status_contradiction(workstream=_workstream(), status="blocked")

    assert contradiction is not None
    assert contradiction.standing is False
    assert "the next sync moves it back to 'active'" in contradiction.message


def test_a_status_the_file_states_contradicts_nothing(repo: Repo) -> None:
    path = Path(repo.local_path) / PLAN
    path.write_text(path.read_text().replace("status: active\n", "status: completed\n", 1))

    assert workstream_status_contradiction(workstream=_workstream(), status="completed") is None


def test_a_workstream_without_a_readable_file_contradicts_nothing(repo: Repo) -> None:
    (Path(repo.local_path) / PLAN).unlink()
    without_file = WorkstreamFactory.create(status="active")

    assert workstream_status_contradiction(workstream=_workstream(), status="completed") is None
    assert workstream_status_contradiction(workstream=without_file, status="completed") is None


def test_the_bulk_check_leaves_out_moves_the_table_refuses_anyway(repo: Repo) -> None:
    proposed = WorkstreamFactory.create(status="proposed", repo=repo, source_path=PLAN)

    found = workstreams_status_contradictions(workstreams=[_workstream(), proposed], status="completed")

    assert [contradiction.workstream_key for contradiction in found] == ["CUST-WP-0040"]


def test_the_update_service_refuses_a_contradicted_status_and_records_nothing(repo: Repo) -> None:
    with pytest.raises(ContradictsWorkplan) as refused:
        services.workstream_update(workstream=_workstream(), data={"status": "completed"})

    assert refused.value.code == "contradicts_workplan"
    assert PLAN in refused.value.message
    assert _workstream().status == "active"
    assert not OutboxEvent.objects.exists()


def test_the_update_service_makes_a_contradicted_change_the_caller_means(repo: Repo) -> None:
    services.workstream_update(workstream=_workstream(), data={"status": "completed"}, despite_workplan=True)

    assert _workstream().status == "completed"
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 1


def test_other_fields_and_the_file_s_own_status_are_not_held_up(repo: Repo) -> None:
    services.workstream_update(workstream=_workstream(), data={"status": "active", "title": "Renamed here"})

    assert _workstream().title == "Renamed here"


@pytest.mark.django_db(transaction=True)
def test_the_file_is_read_before_the_workstream_is_locked(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import connection

    from hub.services import workstreams

    read_file = workstreams.workplan_file_status
    inside_a_transaction = []

    def recording(workstream: Workstream) -> str | None:
        inside_a_transaction.append(connection.in_atomic_block)
        return read_file(workstream)

    monkeypatch.setattr(workstreams, "workplan_file_status", recording)

    with pytest.raises(ContradictsWorkplan):
        services.workstream_update(workstream=_workstream(), data={"status": "completed"})

    # Read once, with no transaction open: a slow disk never holds the row lock.
    assert inside_a_transaction == [False]
