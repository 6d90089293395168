"""OpenAPI generation: documented error responses on every operation, and no duplicate slash aliases."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

FIELD_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='Invalid input: `{"field": ["message"]}`, or `{"detail": ...}` for a malformed body or query.',
)


class ErrorSerializer(serializers.Serializer):
    """An error that is not about one field: a 401, 403, 404, 409 or 429."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False)


ERROR = ErrorSerializer


class HubAutoSchema(AutoSchema):
    """Adds the error answers of DESIGN §7 (400/401/403/404/409/429) to each operation that can give them."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors: dict[str, Any] = {"400": FIELD_ERRORS}
        if self.get_auth():
            errors |= {"401": ERROR, "403": ERROR, "429": ERROR}
        if "{" in self.path or self._is_list_view():
            errors["404"] = ERROR  # an unknown key, or a page number past the end
        if self.method in ("POST", "PATCH"):
            errors["409"] = ERROR
        for code, serializer in errors.items():
            if code not in responses:
                if isinstance(serializer, OpenApiResponse):
                    response = self._get_response_for_code(serializer.response, code, direction=direction)
                    response["description"] = serializer.description
                else:
                    response = self._get_response_for_code(serializer, code, direction=direction)
                responses[code] = response
        return responses


def drop_aliases(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Spectacular preprocessing hook: document each path once, in the form DESIGN §7 writes it."""
    return [endpoint for endpoint in endpoints if not getattr(endpoint[3], "schema_alias", False)]
