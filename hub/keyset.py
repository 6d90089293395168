"""Keyset pages of an ordered query, with opaque cursors: what MCP list tools hand to agents.

A cursor carries the sort values of the last item an answer held, so the next page starts right
after it whatever was added or removed meanwhile (an offset would skip or repeat items when rows
move). The ordering must end with a unique field so that every row has exactly one place.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet

from statehub.cursors import TOOL_HINT, InvalidCursor, cursor_value, ordering_field

M = TypeVar("M", bound=models.Model)


def _value(row: models.Model, path: str) -> Any:
    value: Any = row
    for part in path.split("__"):
        value = getattr(value, part)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value.pk)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def cursor_after(row: models.Model, ordering: Sequence[str]) -> str:
    """The cursor of the page that starts right after `row` in `ordering`."""
    payload = {"o": ",".join(ordering), "v": [_value(row, name.lstrip("-")) for name in ordering]}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def cursor_values(cursor: str, ordering: Sequence[str], *, queryset: QuerySet[Any]) -> list[Any]:
    """The sort values a cursor of `ordering` over `queryset` carries; `InvalidCursor` for what this did not write.

    Each value must be of the JSON type `cursor_after` writes for its field and one that field can
    hold (`statehub.cursors.cursor_value`), so a forged cursor is refused before it reaches a query.
    """
    try:
        text = cursor.strip()
        payload = json.loads(base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode()))
        values = payload["v"]
        ok = payload["o"] == ",".join(ordering) and isinstance(values, list) and len(values) == len(ordering)
    except (binascii.Error, ValueError, UnicodeError, TypeError, KeyError, RecursionError):
        ok = False
    if not ok:
        raise InvalidCursor(hint=TOOL_HINT)
    cleaned = []
    for name, value in zip(ordering, values, strict=True):
        field = ordering_field(queryset, name)
        if value is not None and type(value) is not _json_type(field):
            raise InvalidCursor(hint=TOOL_HINT)
        cleaned.append(cursor_value(field, value, hint=TOOL_HINT))
    return cleaned


def _json_type(field: models.Field[Any, Any]) -> type:
    """The JSON type `cursor_after` writes for a value of `field`."""
    if isinstance(field, models.BooleanField):
        return bool
    if isinstance(field, models.IntegerField):
        return int
    return str


def keyset_after(ordering: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows strictly after `values` in `ordering`: (a > x) or (a = x and b > y) or ..."""
    condition = Q(pk__in=[])
    for position, name in enumerate(ordering):
        field = name.lstrip("-")
        step = Q(**{f"{field}__{'lt' if name.startswith('-') else 'gt'}": values[position]})
        for earlier, value in zip(ordering[:position], values[:position], strict=True):
            step &= Q(**{earlier.lstrip("-"): value})
        condition |= step
    return condition


def keyset_window(
    queryset: QuerySet[M], *, ordering: Sequence[str], limit: int, cursor: str | None = None
) -> tuple[list[M], bool]:
    """Up to `limit` rows of `queryset` in `ordering`, after `cursor` if given, and whether more follow."""
    if cursor:
        queryset = queryset.filter(keyset_after(ordering, cursor_values(cursor, ordering, queryset=queryset)))
    rows = list(queryset.order_by(*ordering)[: limit + 1])
    return rows[:limit], len(rows) > limit
