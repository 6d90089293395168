"""What a cursor may hold: the one rule every list that pages by cursor applies to the cursor it is handed.

A cursor is a client's text. It goes back into a query as the sort values of the row a page
ended on, so anything the hub did not write (random bytes, valid base64 of garbage, a number past
a column's range, a string with a NUL, a date that does not exist) would otherwise reach the ORM
or PostgreSQL and come back as a 500, or as a tool crash in MCP. Each sort value is checked
against the model field it will be compared with, exactly as that field would hold it; a cursor
that does not pass is `InvalidCursor`: a 400 naming the parameter in the API, a tool error in MCP.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import QuerySet

from statehub.errors import ServiceError

API_HINT = "follow the `next` link of the previous page unchanged."
TOOL_HINT = "pass back the next_cursor of the previous answer unchanged."


class InvalidCursor(ServiceError):
    """A cursor this list did not give out (forged, cut short, of another list or order)."""

    code = "invalid_cursor"

    def __init__(self, parameter: str = "cursor", *, hint: str = API_HINT) -> None:
        super().__init__(f"{parameter} is not one this list gave out; {hint}", field=parameter)


def ordering_field(queryset: QuerySet[Any], name: str) -> models.Field[Any, Any]:
    """The field `queryset` sorts by for `name`: a field path (`workstream__priority`, `pk`) or an annotation."""
    path = name.lstrip("-")
    annotation = queryset.query.annotations.get(path)
    if annotation is not None:
        field: models.Field[Any, Any] = annotation.output_field
        return field
    opts = queryset.model._meta
    parts = path.split("__")
    for part in parts[:-1]:
        related = opts.get_field(part).related_model
        if related is None or isinstance(related, str):
            raise FieldDoesNotExist(f"{part} of {path} is not a relation")
        opts = related._meta
    last = parts[-1]
    found = opts.pk if last == "pk" else opts.get_field(last)
    if not isinstance(found, models.Field):
        raise FieldDoesNotExist(f"{path} is not a column")
    # A foreign key sorts by the value of the column it points to.
    return found.target_field if isinstance(found, models.ForeignKey) else found


def cursor_value(field: models.Field[Any, Any], value: Any, *, parameter: str = "cursor", hint: str = API_HINT) -> Any:
    """`value` as `field` holds it, or `InvalidCursor` when no row's `field` could hold it.

    `to_python` parses the value and an integer field's validators bound it (the column's range);
    None passes only where the column may be null; a text value may not contain NUL (PostgreSQL
    refuses it) and a moment must carry its time zone (the hub writes aware ones).
    """
    if value is None:
        if field.null:
            return None
        raise InvalidCursor(parameter, hint=hint)
    if isinstance(value, str) and "\x00" in value:
        raise InvalidCursor(parameter, hint=hint)
    try:
        cleaned = field.to_python(value)
        if isinstance(field, models.IntegerField):
            # The column's range (and any bound of the field); a text field's validators are left out:
            # any text compares safely, and a row written before a validator existed must keep its cursor.
            field.run_validators(cleaned)
    except (ValidationError, TypeError, ValueError, ArithmeticError):
        raise InvalidCursor(parameter, hint=hint) from None
    if cleaned is None or (isinstance(cleaned, dt.datetime) and cleaned.tzinfo is None):
        raise InvalidCursor(parameter, hint=hint)
    return cleaned
