"""OpenAPI generation: documented error responses on every operation, and no duplicate slash aliases."""

import functools
from collections.abc import Callable
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from hub.api.serializers import ErrorSerializer

FIELD_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='Invalid input: `{"field": ["message"]}`, or `{"detail": ...}` for a malformed body or query.',
)
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


def alias_of(view: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of a view for the other trailing-slash form of its path, kept out of the schema."""

    @functools.wraps(view)
    def alias(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    alias.schema_alias = True  # type: ignore[attr-defined]
    # Not an API view of its own: the browsable API's breadcrumbs would list the page twice
    # ("Decision List / Decision List") for the path with and without its trailing slash.
    del alias.cls  # type: ignore[attr-defined]
    return alias


def drop_aliases(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Spectacular preprocessing hook: document each path once, in the form DESIGN §7 writes it."""
    return [endpoint for endpoint in endpoints if not getattr(endpoint[3], "schema_alias", False)]
