"""One place that maps every app's service errors (and stray framework errors) to HTTP responses."""

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError
from django.http import HttpResponseBase
from django.shortcuts import resolve_url
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from statehub.api.errors import RETRY_AFTER_S, database_unavailable_body
from statehub.errors import ErrorKind, ServiceError

logger = logging.getLogger(__name__)

STATUS_OF_KIND = {
    ErrorKind.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.CONFLICT: status.HTTP_409_CONFLICT,
}


def _is_a_page(context: dict[str, Any]) -> bool:
    renderer = getattr(context.get("request"), "accepted_renderer", None)
    return getattr(renderer, "media_type", None) == "text/html"


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponseBase | None:
    """DRF's handler, plus: a `ServiceError` of any app → 400/404/409 by its kind.

    The body is `{"detail", "code"}`, or the field errors `{field: [message]}` of an invalid input
    that names its fields. Also: a Django ValidationError that escaped a serializer → 400 field
    errors; a value the database refuses (DataError: out of range, bad encoding) → 400 rather than
    500; the database unreachable or hung (connect or statement timeout) → 503
    `database_unavailable` with `Retry-After`; an anonymous page request (browsable API, /docs/)
    → the login page.
    """
    if isinstance(exc, NotAuthenticated) and _is_a_page(context):
        # A person in a browser (browsable API, /docs/) gets the login page, not a bare 401.
        request = context["request"]
        return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("The database is unavailable: %s", exc)
        return Response(
            database_unavailable_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if isinstance(exc, ServiceError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.kind is ErrorKind.INVALID and exc.errors:
            body = dict(exc.errors)
        return Response(body, status=STATUS_OF_KIND[exc.kind])
    if isinstance(exc, DjangoValidationError):
        return Response(as_serializer_error(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError):
        logger.warning("The database refused a value from %s", context.get("request"), exc_info=exc)
        return Response(
            {"detail": "The database refused a value in this request.", "code": "invalid"},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)
