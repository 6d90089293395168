"""Hyperlinks between the API's objects, so a person can click through the browsable API.

Links are named by key, as the paths are. A list of 50 rows carries several links each, so a link's
URL pattern is reversed once per process, made absolute once per response (kept in the serializer
context), and each row only fills in its key: no query and no URL resolution per row.
"""

import copy
import functools
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import quote

from django.db.models import Model
from django.urls import get_script_prefix, get_urlconf, reverse
from rest_framework import serializers
from rest_framework.request import Request

_KEY = "__key__"


@functools.lru_cache(maxsize=256)
def _path_template(view_name: str, url_kwarg: str | None, urlconf: str | None, script_prefix: str) -> str:
    # Resolved once per process for each link (the arguments name everything reverse() depends on).
    return reverse(view_name, kwargs={url_kwarg: _KEY} if url_kwarg else None)


def _template(context: Mapping[str, Any], view_name: str, url_kwarg: str | None, request: Request) -> str:
    """The absolute URL of `view_name` with a placeholder for the key, made absolute once per response."""
    # DRF types the context as a Mapping; it is the dict the view built for this response.
    templates = cast(dict[str, Any], context).setdefault("_link_templates", {})
    template = templates.get((view_name, url_kwarg))
    if template is None:
        if "urls" not in templates:
            # The request's origin ("https://hub.example.org") and what reverse() depends on, once.
            templates["urls"] = (request.build_absolute_uri("/")[:-1], get_urlconf(), get_script_prefix())
        origin, urlconf, script_prefix = templates["urls"]
        template = templates[(view_name, url_kwarg)] = origin + _path_template(
            view_name, url_kwarg, urlconf, script_prefix
        )
    return str(template)


def _key_url(field: serializers.HyperlinkedRelatedField, obj: Model, view_name: str, request: Request) -> str:
    template = _template(field.context, view_name, field.lookup_url_kwarg, request)
    return template.replace(_KEY, quote(str(getattr(obj, field.lookup_field)), safe=""))


class _CopiedLink:
    """Every serializer instance copies its declared fields; DRF does it by calling `__init__` again.

    A link field holds only strings and is never validated, so a shallow copy is a faithful one,
    and it keeps a response's links from costing more than the rest of the object.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return copy.copy(self)


class KeyLinkField(_CopiedLink, serializers.HyperlinkedRelatedField):
    """A read-only link to a related object's page (`repo_url`), by the object's key; null when there is none."""

    def __init__(self, view_name: str, *, lookup_field: str = "key", **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(
            view_name=view_name, lookup_field=lookup_field, lookup_url_kwarg=lookup_field, read_only=True, **kwargs
        )

    def get_url(self, obj: Model, view_name: str, request: Request, format: str | None) -> str:
        return _key_url(self, obj, view_name, request)


class SelfLinkField(_CopiedLink, serializers.HyperlinkedIdentityField):
    """A link to the object's own page (`url`) or to one of its action pages (`resolve_url`), by its key."""

    def __init__(self, view_name: str, *, lookup_field: str = "key", **kwargs: Any) -> None:
        super().__init__(view_name=view_name, lookup_field=lookup_field, lookup_url_kwarg=lookup_field, **kwargs)

    def get_url(self, obj: Model, view_name: str, request: Request, format: str | None) -> str:
        return _key_url(self, obj, view_name, request)


class ListLinkField(_CopiedLink, serializers.HyperlinkedIdentityField):
    """A link to a list filtered to this object, e.g. `tasks_url` = `/tasks/?workstream=<key>`."""

    def __init__(self, view_name: str, *, filter_name: str, lookup_field: str = "key", **kwargs: Any) -> None:
        self.filter_name = filter_name
        super().__init__(view_name=view_name, lookup_field=lookup_field, **kwargs)

    def get_url(self, obj: Model, view_name: str, request: Request, format: str | None) -> str:
        template = _template(self.context, view_name, None, request)
        return f"{template}?{self.filter_name}={quote(str(getattr(obj, self.lookup_field)), safe='')}"
