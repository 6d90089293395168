"""Page-number pagination with a client-chosen page size up to 500."""

from statehub.pagination import BoundedCountPagination


class PageNumberPagination(BoundedCountPagination):
    """`count`, `next`, `previous`, `results`; `?page=` and `?page_size=` (≤ 500).

    `count` is exact up to 10,000 rows and PostgreSQL's estimate above, so a page of a list of
    200,000 tasks costs what a page of a list of 1,000 does.
    """
