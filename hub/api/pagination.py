"""Page-number pagination with a client-chosen page size up to 500."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`count`, `next`, `previous`, `results`; `?page=` and `?page_size=` (≤ 500)."""

    page_size_query_param = "page_size"
    max_page_size = 500
