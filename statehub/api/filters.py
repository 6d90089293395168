"""`?ordering=` that refuses what it cannot do and pages the same way every time; `?search=` within bounds."""

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework import filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from statehub.ordering import by_meaning
from statehub.search import SEARCH_MAX_TERMS, SEARCH_MIN_TERM_LENGTH, search_terms


class OrderingFilter(filters.OrderingFilter):
    """DRF's ordering filter, with two changes.

    - A field the list does not offer is a 400 naming the ones it does, instead of being dropped
      silently (the caller would get another order and not know).
    - The order ends with the list's unique field (`ordering_tiebreak` on the view, default the
      primary key), so rows that tie on the chosen field keep one order from page to page: with
      `?ordering=priority` thousands of tasks tie, and page-number pages over an order the database
      may break differently on each query would repeat some rows and skip others.

    A choice field (a status, a task's priority) orders by its rank in the choices' order, not
    alphabetically (`statehub.ordering`).

    On the tables that grow without bound (tasks, progress entries, the outbox) every offered field
    has an index whose order ends the same way, so a page costs what a page costs, not what the
    table costs; the other lists (a few thousand rows at most) sort in memory.
    """

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> Sequence[str] | None:
        param = request.query_params.get(self.ordering_param)
        if not param:
            return self.get_default_ordering(view)
        terms = [term.strip() for term in param.split(",") if term.strip()]
        valid = self.remove_invalid_fields(queryset, terms, view, request)
        unknown = [term for term in terms if term not in valid]
        if unknown or not terms:
            offered = sorted(name for name, _ in self.get_valid_fields(queryset, view, {"request": request}))
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Cannot order by {', '.join(unknown) or param!r}; this list orders by "
                        f"{', '.join(offered)} (prefix '-' for descending)."
                    ]
                }
            )
        return valid

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            return queryset
        tiebreak = getattr(view, "ordering_tiebreak", "pk")
        if not any(term.lstrip("-") in (tiebreak, "pk", "id") for term in ordering):
            # Descending with the last chosen field, so one index read backwards serves both.
            ordering = [*ordering, f"-{tiebreak}" if ordering[-1].startswith("-") else tiebreak]
        return queryset.order_by(*by_meaning(queryset.model, ordering))


class SearchFilter(filters.SearchFilter):
    """DRF's search filter, bounded by `statehub.search.search_terms` (a few terms, each one the index can find).

    A search it will not run is a 400 naming `search` and the limit, before the database sees it
    (DRF itself answers a NUL with a bare JSON list). A list that searches nothing refuses
    `?search=` instead of ignoring it, as `?ordering=` refuses a field it does not offer.
    """

    search_description = (
        f"Terms separated by spaces or commas (a quoted phrase is one term), each of which must match: at most "
        f"{SEARCH_MAX_TERMS}, each with at least {SEARCH_MIN_TERM_LENGTH} letters or digits in a row; else a 400."
    )

    def get_search_terms(self, request: Request) -> list[str]:
        return search_terms(request.query_params.get(self.search_param, ""), parameter=self.search_param)

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        if not self.get_search_fields(view, request) and request.query_params.get(self.search_param):
            raise ValidationError({self.search_param: ["This list has no search; its filters are in /schema/."]})
        return super().filter_queryset(request, queryset, view)
