"""Errors of every API path as JSON: unmatched URL, oversized body, bad request, database down, the last-resort 500.

DRF's exception handler covers what happens inside an API view; these cover the rest (URL
resolution, middleware, and whatever escapes a view). The admin and the login pages keep Django's
HTML error pages: people read those.
"""

import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults

logger = logging.getLogger(__name__)

# Seconds a client should wait before retrying while the database is away.
RETRY_AFTER_S = 5
HTML_PREFIXES = ("/admin/", "/api-auth/")
DATABASE_ERRORS = (OperationalError, InterfaceError)


def is_api_path(path: str) -> bool:
    """Every path but the admin's and the login pages' is part of the API and answers JSON."""
    return not path.startswith(HTML_PREFIXES)


def database_unavailable_body() -> dict[str, str]:
    return {
        "detail": "The hub's database cannot be reached or did not answer in time; try again shortly.",
        "code": "database_unavailable",
    }


def database_unavailable(request: HttpRequest | None = None) -> JsonResponse:
    """503 `database_unavailable` with `Retry-After`."""
    response = JsonResponse(database_unavailable_body(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


def too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        {"detail": f"The request body is over the {limit} bytes the hub accepts.", "code": "too_large"}, status=413
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api_path(request.path):
        return defaults.bad_request(request, exception or Exception())
    if isinstance(exception, RequestDataTooBig):
        return too_large()
    return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api_path(request.path):
        return defaults.permission_denied(request, exception or Exception())
    return JsonResponse(
        {"detail": "You do not have permission to perform this action.", "code": "forbidden"}, status=403
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api_path(request.path):
        return defaults.page_not_found(request, exception or Exception())
    return JsonResponse({"detail": f"No API endpoint at {request.path}.", "code": "not_found"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its `except` block, so the exception is at hand.
    exception = sys.exc_info()[1]
    if isinstance(exception, DATABASE_ERRORS):
        return database_unavailable(request)
    if not is_api_path(request.path):
        return defaults.server_error(request)
    return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)


class RequestLimitsMiddleware:
    """Refuse a body over `DATA_UPLOAD_MAX_MEMORY_SIZE` with a JSON 413 before anything reads it.

    Django checks that limit only when a form body is read; DRF reads JSON bodies from the stream
    directly, so without this a body of any size would be read into memory.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and is_api_path(request.path) and _content_length(request) > limit:
            return too_large()
        return self.get_response(request)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class DebugNotFoundMiddleware:
    """Under DEBUG, answer an unmatched API path with the same JSON 404 as without it.

    With DEBUG on, Django answers a URL that matches no pattern with its HTML debug page and never
    calls `handler404`, so `serve` (which runs with DEBUG) broke the promise that every API error
    is JSON. This resolves the path first and answers `page_not_found` itself; placed after
    CommonMiddleware, whose slash-appending redirect still sees the 404. Without DEBUG it is not
    loaded at all: `handler404` does the job.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.DEBUG:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path):
            try:
                resolve(request.path_info, getattr(request, "urlconf", None))
            except Resolver404:
                return page_not_found(request)
        return self.get_response(request)
