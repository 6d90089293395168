"""hub.services._common.history_rows_add: its raw SQL writes, column by column, the history row a save writes.

The bulk writes (`bulk_insert`, the stale-task cleanup's UPDATE) copy rows into django-simple-history's
tables themselves; this holds that copy to the library's own layout, so an upgrade that adds or
fills a column differently fails here instead of leaving odd history rows.
"""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, models

from hub import history
from hub.models import Decision, Domain, DomainGoal, Repo, Task, Workstream
from hub.services._common import history_rows_add
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    RepoFactory,
    TaskFactory,
    WorkstreamFactory,
)

pytestmark = pytest.mark.django_db

FACTORIES: dict[type[models.Model], Any] = {
    Domain: DomainFactory,
    Repo: RepoFactory,
    DomainGoal: DomainGoalFactory,
    Workstream: WorkstreamFactory,
    Task: TaskFactory,
    Decision: DecisionFactory,
}


def _row(model: type[models.Model], history_id: int) -> dict[str, Any]:
    """Every column of one history row, as the database holds it."""
    table = connection.ops.quote_name(model.history.model._meta.db_table)  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE history_id = %s", [history_id])  # noqa: S608
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def _newest(model: type[models.Model], pk: Any) -> Any:
    return model.history.filter(id=pk).order_by("-history_id").first()  # type: ignore[attr-defined]


@pytest.mark.parametrize("created", [True, False], ids=["created", "changed"])
@pytest.mark.parametrize("model", list(FACTORIES), ids=lambda model: model.__name__)
def test_a_bulk_history_row_equals_the_row_a_save_writes(model: type[models.Model], created: bool) -> None:
    user = User.objects.create_user("historian")
    with history.door(history.Door.SYNC, user=user):
        instance = FACTORIES[model].create()
        if not created:
            instance.save()
        saved = _newest(model, instance.pk)
        history_rows_add(model, [instance.pk], created=created, at=saved.history_date)
    bulk = _newest(model, instance.pk)

    saved_row, bulk_row = _row(model, saved.history_id), _row(model, bulk.history_id)

    assert bulk.history_id != saved.history_id  # a second row, and the only column in which they differ:
    del saved_row["history_id"], bulk_row["history_id"]
    assert bulk_row == saved_row
    assert (saved_row["history_type"], saved_row["door"], saved_row["history_user_id"]) == (
        "+" if created else "~",
        "sync",
        user.pk,
    )
