"""Page counts that cost the same on a table of a million rows as on a table of a thousand.

`SELECT COUNT(*)` reads every matching row, so on the outbox (an audit log that only grows) the
count of a page would cost more than the page itself. Counting stops after `EXACT_COUNT_LIMIT`
rows; beyond that the count is PostgreSQL's planner estimate for the same query (from the
statistics autovacuum keeps), which is what a person paging through that many rows needs.
"""

import json
from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from rest_framework import pagination

EXACT_COUNT_LIMIT = 10_000


def planner_estimate(queryset: QuerySet[Any]) -> int:
    """The number of rows PostgreSQL's planner expects `queryset` to return (EXPLAIN, nothing is read)."""
    sql, params = queryset.order_by().query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        row = cursor.fetchone()
    plan = row[0] if row else [{}]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0].get("Plan", {}).get("Plan Rows", 0))


def bounded_count(queryset: QuerySet[Any], *, exact_limit: int = EXACT_COUNT_LIMIT) -> int:
    """The exact number of rows up to `exact_limit`; above it, the planner's estimate (at least `exact_limit + 1`)."""
    counted = queryset.order_by()[: exact_limit + 1].count()
    if counted <= exact_limit:
        return counted
    return max(exact_limit + 1, planner_estimate(queryset))


class BoundedCountPaginator(Paginator):
    """A Django paginator whose `count` is exact up to 10,000 rows and estimated above."""

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            return bounded_count(self.object_list)
        return len(self.object_list)


class BoundedCountPagination(pagination.PageNumberPagination):
    """DRF page-number pagination (`?page_size=` up to 500) over `BoundedCountPaginator`."""

    django_paginator_class = BoundedCountPaginator
    page_size_query_param = "page_size"
    max_page_size = 500
