"""Pagination of the API's lists: page numbers with a client-chosen page size up to 500, or a checked cursor."""

from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from rest_framework import exceptions, pagination
from rest_framework.request import Request
from rest_framework.views import APIView

from statehub.cursors import InvalidCursor, cursor_value, ordering_field
from statehub.pagination import BoundedCountPagination


class PageNumberPagination(BoundedCountPagination):
    """`count`, `next`, `previous`, `results`; `?page=` and `?page_size=` (≤ 500).

    `count` is exact up to 10,000 rows and PostgreSQL's estimate above, so a page of a list of
    200,000 tasks costs what a page of a list of 1,000 does.
    """


class CheckedCursorPagination(pagination.CursorPagination):
    """DRF's cursor pagination, where a cursor it did not write is a 400 naming the parameter, never a 404 or 500.

    DRF answers a cursor it cannot decode with a 404 and passes the position it decodes to the
    query as it is, so a forged position (`p=abc`, a number past the column's range, a NUL) fails
    in the database. Here the position is checked against the ordering's field (`statehub.cursors`)
    and `position_validators`, which a list adds for what its field alone does not say.
    """

    position_validators: ClassVar[list[Callable[[Any], None]]] = []

    def paginate_queryset(self, queryset: Any, request: Request, view: APIView | None = None) -> Any:
        self._queryset: QuerySet[Any] = queryset
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise InvalidCursor(self.cursor_query_param) from None
        if cursor == pagination.Cursor(offset=0, reverse=False, position=None):
            # What blank or undecodable-to-nothing text decodes to ("", " ", "===="); DRF never writes it.
            raise InvalidCursor(self.cursor_query_param)
        if cursor is None or cursor.position is None:
            return cursor
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        field = ordering_field(self._queryset, ordering)
        value = cursor_value(field, cursor.position, parameter=self.cursor_query_param)
        try:
            for validator in self.position_validators:
                validator(value)
        except ValidationError:
            raise InvalidCursor(self.cursor_query_param) from None
        return cursor
