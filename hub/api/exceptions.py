"""One place that maps the hub's domain errors to HTTP responses."""

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hub.errors import Conflict, HubError, InvalidTransition, NotFound, ValidationFailed


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: InvalidTransition/Conflict → 409, NotFound → 404, ValidationFailed → 400."""
    if isinstance(exc, InvalidTransition | Conflict):
        return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, NotFound):
        return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, ValidationFailed):
        body: dict[str, Any] = dict(exc.errors) if exc.errors else {"detail": exc.message}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, HubError):
        return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
