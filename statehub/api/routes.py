"""Route helpers every app's API uses: each path as DESIGN §7 writes it, plus its other trailing-slash form."""

import functools
from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, path

COLLECTION: dict[str, Any] = {"get": "list", "post": "create"}
ITEM: dict[str, Any] = {"get": "retrieve", "patch": "partial_update"}


def action_methods(action: str) -> dict[str, Any]:
    """An action route: POST does it; GET shows the object's state (in the browsable API, with the action's form)."""
    return {"get": action, "post": action}


def route(route_path: str, view: Callable[..., Any], name: str) -> list[URLPattern]:
    """The path as documented, plus an undocumented alias with or without the trailing slash."""
    alias = route_path[:-1] if route_path.endswith("/") else route_path + "/"
    return [path(route_path, view, name=name), path(alias, alias_of(view), name=f"{name}-alias")]


def alias_of(view: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of a view for the other trailing-slash form of its path, kept out of the OpenAPI schema."""

    @functools.wraps(view)
    def alias(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    alias.schema_alias = True  # type: ignore[attr-defined]
    # Not an API view of its own: the browsable API's breadcrumbs would list the page twice
    # ("Decision List / Decision List") for the path with and without its trailing slash.
    del alias.cls  # type: ignore[attr-defined]
    return alias
