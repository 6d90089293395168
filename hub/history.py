"""Who changed what, through which door: the context every entry point sets once for the history rows.

django-simple-history writes a history row in the transaction of each save of a tracked model
(`hub.models`); it cannot know which door the change came through, nor, outside a request, who
made it. An entry point (an HTTP request, an admin page, an MCP tool call, a workplan sync, a
management command) states both once with `door(...)`; the history rows written while it is open
carry them. Context variables follow the call across threads that copy the context (the MCP
server's database workers do), and each request or call resets them on the way out. The innermost
door wins: a sync started from the API or from `consistency_check` records its changes as `sync`,
by the user who started it.
"""

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from simple_history.models import HistoricalRecords


class Door(models.TextChoices):
    """The entry point a change came through."""

    API = "api", "API"
    ADMIN = "admin"
    MCP = "mcp", "MCP"
    SYNC = "sync"
    COMMAND = "command"


@dataclass
class _Context:
    door: str
    user: Any = None  # a user, or None; resolved from `request` or `username` on first use
    request: HttpRequest | None = None
    username: str = ""
    resolved: bool = False

    def current_user(self) -> Any:
        if self.resolved:
            return self.user
        if self.request is not None:
            # Read when the row is written: DRF authenticates a token inside the view, after the
            # middleware ran, and sets the authenticated user on this same request.
            user = getattr(self.request, "user", None)
            return user if user is not None and user.is_authenticated else None
        if self.username:
            user_model = get_user_model()
            self.user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: self.username}).first()
        self.resolved = True
        return self.user


_context: contextvars.ContextVar[_Context | None] = contextvars.ContextVar("statehub_history_context", default=None)


@contextmanager
def door(
    name: Door | str, *, user: Any = None, username: str = "", request: HttpRequest | None = None
) -> Iterator[None]:
    """Attribute the history rows written inside to this door and user (the enclosing user when none is given)."""
    outer = _context.get()
    if user is None and not username and request is None and outer is not None:
        context = replace(outer, door=str(name))
    else:
        context = _Context(str(name), user=user, request=request, username=username, resolved=user is not None)
    token = _context.set(context)
    try:
        yield
    finally:
        _context.reset(token)


def current_door() -> str:
    """The door of the change being made ("" outside any door, e.g. in a shell); the history rows' default."""
    context = _context.get()
    return context.door if context is not None else ""


def current_user(request: HttpRequest | None = None, **kwargs: Any) -> Any:
    """The user of the change being made, or None (simple-history's `get_user`)."""
    context = _context.get()
    if context is not None:
        return context.current_user()
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


_untracked: contextvars.ContextVar[bool] = contextvars.ContextVar("statehub_history_untracked", default=False)


@contextmanager
def untracked() -> Iterator[None]:
    """Save without history rows inside (bookkeeping such as a repo's last sync time, not a change of it)."""
    token = _untracked.set(True)
    try:
        yield
    finally:
        _untracked.reset(token)


class DoorHistoricalRecords(HistoricalRecords):
    """simple-history's records, except for saves made inside `untracked()`."""

    def post_save(self, instance: models.Model, created: bool, using: str | None = None, **kwargs: Any) -> None:
        if not _untracked.get():
            super().post_save(instance, created, using=using, **kwargs)


class HistoryDoorMiddleware:
    """Every HTTP request is a door, by the request's user: `admin` for the admin's pages, `api` for the rest."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # `request.path` and `reverse` both carry the script prefix the site is served under.
        name = Door.ADMIN if request.path.startswith(reverse("admin:index")) else Door.API
        with door(name, request=request):
            return self.get_response(request)
