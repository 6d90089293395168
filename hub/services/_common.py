"""Helpers shared by the services: applying field changes and turning model validation into domain errors."""

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, connection, models
from django.utils import timezone

from hub import history
from hub.errors import Conflict, ValidationFailed

M = TypeVar("M", bound=models.Model)


def reject_unknown_fields(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse fields a service does not let its callers set."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be set here: {', '.join(unknown)}.",
            errors={name: ["This field cannot be set here."] for name in unknown},
        )


def validate_and_save(instance: M, *, creating: bool = False) -> M:
    """Validate the instance like a model form would, then save it; constraint races become Conflict.

    Called inside a service's `transaction.atomic`, which rolls the whole write back on Conflict.
    """
    # A fresh uuid4 primary key needs no uniqueness query, and a related object the caller already
    # loaded needs no existence query (the foreign key constraint still guards against a race).
    exclude = {"id"} if creating else set()
    loaded = {
        field.name
        for field in instance._meta.concrete_fields
        if isinstance(field, models.ForeignKey) and field.is_cached(instance)
    }
    try:
        instance.full_clean(exclude=exclude | loaded, validate_constraints=False)
        # Check constraints restate the field choices and validators just checked (and the database
        # enforces them); only the unique ones need a query here, to give a clear message.
        for constraint in instance._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint):
                constraint.validate(type(instance), instance, exclude=exclude)
    except ValidationError as exc:
        by_field = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
        errors = {field: [str(m) for m in messages] for field, messages in by_field.items()}
        first = next(iter(errors.values()))[0] if errors else "Invalid input."
        raise ValidationFailed(first, errors=errors) from exc
    try:
        instance.save(force_insert=creating)
    except IntegrityError as exc:
        raise Conflict(f"This change conflicts with existing data: {exc.__cause__ or exc}") from exc
    return instance


def check_fields(instance: M) -> None:
    """Check each field's own rules (lengths, choices, key alphabet) without a query; raise ValidationFailed.

    Relations and uniqueness are left out: the database's foreign keys and unique indexes have the
    last word, and `validate_and_save` checks them with a query where a clear message is worth one.
    So are the columns no caller sets (the id, the timestamps).
    """
    skipped = [
        field.name
        for field in instance._meta.concrete_fields
        if isinstance(field, models.ForeignKey) or not field.editable
    ]
    try:
        instance.clean_fields(exclude=skipped)
    except ValidationError as exc:
        errors = {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
        raise ValidationFailed(f"{instance}: {next(iter(errors.values()))[0]}", errors=errors) from exc


def bulk_insert(model: type[M], rows: list[M]) -> None:
    """Insert rows already checked by `check_fields` in one statement, and their history rows in another.

    A taken key becomes Conflict. `bulk_create` sends no `post_save`, so the history rows a save
    would write (`hub.history`) are written here, in the same transaction.
    """
    try:
        model._default_manager.bulk_create(rows)
    except IntegrityError as exc:
        raise Conflict(f"These rows conflict with existing data: {exc.__cause__ or exc}") from exc
    history_rows_add(model, [row.pk for row in rows], created=True)


def history_rows_add(model: type[M], ids: list[Any], *, created: bool, at: dt.datetime | None = None) -> None:
    """The history rows of objects written in bulk (created, or changed at `at`), as their saves would have written.

    One `INSERT … SELECT` copies the rows as they now are into the history table, with the time,
    the change type and the current door and user (`hub.history`): building thousands of history
    objects in Python and sending every value back to the server cost as much as the bulk write itself.
    """
    manager = getattr(model, "history", None)
    if manager is None or not ids or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    history_model = manager.model
    quote = connection.ops.quote_name
    tracked = history_model.tracked_fields
    targets = [quote(field.column) for field in tracked]
    columns = {field.name: str(field.column) for field in model._meta.concrete_fields}
    sources = [quote(columns[field.name]) for field in tracked]
    user = history.current_user()
    # Names from the models, values as parameters.
    sql = (
        f"INSERT INTO {quote(history_model._meta.db_table)} "  # noqa: S608
        f"({', '.join(targets)}, history_date, history_type, history_user_id, door) "
        f"SELECT {', '.join(sources)}, %s, %s, %s, %s FROM {quote(model._meta.db_table)} "
        f"WHERE {quote(columns['id'])} = ANY(%s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [at or timezone.now(), "+" if created else "~", user.pk if user else None, history.current_door(), ids],
        )


def apply_fields(instance: M, data: Mapping[str, Any]) -> list[str]:
    """Set the given attributes and return the names that actually changed."""
    changed = []
    for name, value in data.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed
