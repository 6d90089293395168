"""Every cursor is validated (`statehub.cursors`): fuzzed cursors on every list that pages by cursor give no 5xx.

The API lists that page by cursor are found from the URLconf (every `CursorPagination` the project
defines), the MCP tools from their signatures (every read tool with a `cursor`), so a new one is
fuzzed too or fails the inventory. Random cases come from a seeded generator (the same every run),
beside a fixed list of nasty ones that must each be refused: random bytes, valid base64 of garbage,
numbers past a column's range, NUL, dates that do not exist, values of the wrong JSON type.
"""

from __future__ import annotations

import base64
import datetime as dt
import inspect
import json
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import models
from django.db.models import QuerySet
from django.urls import get_resolver
from rest_framework.pagination import CursorPagination
from rest_framework.test import APIClient

import events
from events.api import ReplayPagination
from events.models import OutboxEvent
from hub import selectors
from hub.keyset import cursor_values
from hub.mcp import tools
from hub.models import Task
from statehub.api.pagination import CheckedCursorPagination
from statehub.cursors import InvalidCursor, cursor_value, ordering_field
from tests.events.contract import repo_registered_attributes
from tests.factories import DecisionFactory, ProgressEventFactory, TaskFactory, WorkstreamFactory
from tests.hub.api.conftest import client_for, make_user, plain_http, reader_api

__all__ = ["make_user", "plain_http", "reader_api"]

SEED = 22
RANDOM_CASES = 60
# A few more than a page so that every list hands out a real cursor with limit=2.
ROWS = 5

# --- the unit: one value against one field --------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (models.BigIntegerField(), "42", 42),
        (models.IntegerField(), 7, 7),
        (models.CharField(max_length=10), "T-01", "T-01"),
        (models.BooleanField(), True, True),
        (models.UUIDField(), "6f1c2a1e-4a0b-4b64-9a55-1b0c6f0e9d11", uuid.UUID("6f1c2a1e-4a0b-4b64-9a55-1b0c6f0e9d11")),
        (models.DateTimeField(), "2026-12-07T22:00:00+00:00", dt.datetime(2026, 12, 7, 22, tzinfo=dt.UTC)),
        (models.DateTimeField(null=True), None, None),
    ],
)
def test_a_value_a_row_could_hold_is_returned_as_the_field_holds_it(field: Any, value: Any, expected: Any) -> None:
    assert cursor_value(field, value) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (models.BigIntegerField(), "99999999999999999999"),
        (models.BigIntegerField(), "1e9"),
        (models.IntegerField(), 2**31),
        (models.IntegerField(), float("inf")),
        (models.IntegerField(), float("nan")),
        (models.IntegerField(), []),
        (models.IntegerField(), None),
        (models.CharField(max_length=10), "a\x00b"),
        (models.UUIDField(), "not-a-uuid"),
        (models.DateTimeField(), "2026-99-99T00:00:00Z"),
        (models.DateTimeField(), "2026-12-07T22:00:00"),
        (models.BooleanField(), "maybe"),
    ],
)
def test_a_value_no_row_could_hold_is_an_invalid_cursor_naming_the_parameter(field: Any, value: Any) -> None:
    with pytest.raises(InvalidCursor) as refused:
        cursor_value(field, value, parameter="cursor")

    assert list(refused.value.errors) == ["cursor"]
    assert refused.value.kind.value == "invalid"


# --- nasty and random cursors ----------------------------------------------------------------------

NASTY_TEXT = [
    " ",
    "=",
    "====",
    "%00",
    "\x00",
    "not-a-cursor",
    "é💥",
    "A" * 20_000,
    base64.b64encode(b"\x00\xff\xfe").decode(),
    base64.urlsafe_b64encode(b"{}").decode(),
    base64.urlsafe_b64encode(b"[]").decode(),
    base64.urlsafe_b64encode(b"null").decode(),
    base64.urlsafe_b64encode(b'"o=1"').decode(),
    base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode(),
]
# Query strings DRF's cursor decodes (`o` offset, `r` reverse, `p` position), each one the hub never writes.
NASTY_POSITIONS = [
    "p=abc",
    "p=1e9",
    "p=-1",
    "p=99999999999999999999",
    "p=9223372036854775808",
    "o=5&p=%00",
    "o=x",
    "r=x&p=1",
    "o=-1&p=1",
    "p=NaN",
    "p=",
    "p=1.5",
]


def random_cursor(rng: random.Random) -> str:
    """One of: random bytes as text, random bytes in base64, or base64 of a querystring or JSON of random values."""
    kind = rng.randrange(4)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))).decode("latin-1")
    if kind == 1:
        return base64.urlsafe_b64encode(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))).decode()
    values = [rng.choice(RANDOM_VALUES) for _ in range(rng.randrange(1, 7))]
    if kind == 2:
        text = "&".join(f"{rng.choice('oprx')}={value}" for value in values)
    else:
        text = json.dumps({"o": rng.choice(["priority,key", "x", ""]), "v": values})
    return base64.b64encode(text.encode()).decode()


RANDOM_VALUES: list[Any] = [0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30, 1.5, "", "\x00", "abc", None, True, [], {}]


def random_cursors(seed: int = SEED) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(RANDOM_CASES):
        yield random_cursor(rng)


# --- the API: every list that pages by cursor --------------------------------------------------------


def _subclasses(cls: type) -> Iterator[type]:
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        yield sub
        yield from _subclasses(sub)


# Each cursor pagination of the project and the requests (path, parameters) of the lists that use it.
CURSOR_LISTS: dict[type, list[tuple[str, dict[str, str]]]] = {
    ReplayPagination: [
        ("/events/", {"after": "0", "page_size": "2"}),
        ("/events/", {"since": "2026-12-01T00:00:00Z", "page_size": "2"}),
    ],
}


def test_every_cursor_pagination_of_the_project_is_checked_and_fuzzed_here() -> None:
    get_resolver().url_patterns  # noqa: B018 - importing every view defines every pagination class
    project = {
        cls
        for cls in _subclasses(CursorPagination)
        if cls.__module__.split(".")[0] in {"hub", "events", "statehub"} and cls is not CheckedCursorPagination
    }

    assert project == set(CURSOR_LISTS)
    assert all(issubclass(cls, CheckedCursorPagination) for cls in project)


@pytest.fixture
def published_events(settings: Any) -> None:
    """Published rows with stream sequences, enough for two pages; no live stream to ask."""
    settings.NATS_URL = ""
    for number in range(ROWS):
        event = events.record("org.statehub.repo.registered", repo_registered_attributes(f"repo-{number}"))
        OutboxEvent.objects.filter(pk=event.pk).update(
            status="published",
            stream_seq=number + 1,
            published_at=dt.datetime(2026, 12, 1, 8, number, tzinfo=dt.UTC),
        )


def _api_lists() -> list[tuple[str, dict[str, str]]]:
    return [request for requests in CURSOR_LISTS.values() for request in requests]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "parameters"), _api_lists())
def test_fuzzed_cursors_on_an_api_list_answer_400_naming_the_cursor_or_a_page_never_5xx(
    reader_api: APIClient, published_events: None, path: str, parameters: dict[str, str]
) -> None:
    nasty = NASTY_TEXT + [base64.b64encode(text.encode()).decode() for text in NASTY_POSITIONS]
    answers = {}
    for cursor in [*nasty, *random_cursors()]:
        response = reader_api.get(path, {**parameters, "cursor": cursor})
        answers[cursor] = response.status_code
        assert response.status_code in (200, 400), (cursor, response.status_code, response.content[:300])
        if response.status_code == 400:
            assert list(response.json()) == ["cursor"], response.json()

    assert {cursor: answers[cursor] for cursor in nasty} == dict.fromkeys(nasty, 400)
    # The cursor the list hands out still works.
    following = reader_api.get(reader_api.get(path, parameters).json()["next"])
    assert following.status_code == 200 and len(following.json()["results"]) == 2


@pytest.mark.django_db
def test_a_replay_cursor_the_hub_could_have_written_is_followed(
    make_user: Callable[..., Any], published_events: None
) -> None:
    client = client_for(make_user("fuzz-reader"))
    position = base64.b64encode(b"p=3").decode()

    response = client.get("/events/", {"after": "0", "page_size": "2", "cursor": position})

    assert response.status_code == 200
    assert [event["stream_seq"] for event in response.json()["results"]] == [4, 5]


# --- MCP: every read tool that takes a cursor --------------------------------------------------------


def _tool_table() -> dict[str, tuple[tuple[str, ...], Callable[[], QuerySet[Any]], dict[str, Any]]]:
    """Each paged tool: its ordering, the query its cursor's values are compared with, and its arguments."""
    return {
        "get_next_steps": (selectors.NEXT_STEPS_ORDERING, selectors.next_steps_get, {}),
        "list_workstreams": (selectors.WORKSTREAM_LIST_ORDERING, selectors.workstream_list, {}),
        "list_tasks": (selectors.TASK_LIST_ORDERING, Task.objects.all, {"workstream_id": "FUZZ-WP-0001"}),
        "list_pending_decisions": (selectors.DECISION_PENDING_ORDERING, selectors.decision_pending_list, {}),
        "get_recent_progress": (selectors.PROGRESS_RECENT_ORDERING, selectors.progress_recent_list, {}),
    }


def test_every_mcp_tool_that_takes_a_cursor_is_fuzzed_here() -> None:
    paged = {fn.__name__ for fn in tools.READ_TOOLS if "cursor" in inspect.signature(fn).parameters}

    assert paged == set(_tool_table())


@pytest.fixture
def hub_rows() -> None:
    workstream = WorkstreamFactory.create(key="FUZZ-WP-0001", status="active")
    for number in range(ROWS):
        WorkstreamFactory.create(key=f"FUZZ-WP-01{number:02d}")
        TaskFactory.create(workstream=workstream, key=f"FUZZ-WP-0001-T{number:02d}", status="todo", order=number)
        DecisionFactory.create(key=f"DEC-FUZZ-{number:02d}", status="open")
        ProgressEventFactory.create(workstream=workstream)


def _forged(ordering: tuple[str, ...], values: list[Any]) -> str:
    payload = json.dumps({"o": ",".join(ordering), "v": values}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


# For each kind of field, values of the right JSON type or not that no row of it could hold.
REFUSED_VALUES: dict[type, list[Any]] = {
    models.BooleanField: [1, "true", None, []],
    models.IntegerField: [2**31, -(2**31) - 1, 10**30, 1.5, "1", True, None, {}],
    models.CharField: [5, None, [], "a\x00b"],
    models.DateTimeField: ["2026-99-99T00:00:00Z", "yesterday", "2026-12-07T22:00:00", 0, None],
    models.UUIDField: ["not-a-uuid", 5, None],
}


def _refused_values(field: models.Field[Any, Any]) -> list[Any]:
    for kind, values in REFUSED_VALUES.items():
        if isinstance(field, kind):
            return values
    raise AssertionError(f"no nasty values for {field!r}")


def _call(name: str, arguments: dict[str, Any], cursor: str) -> str:
    """`ok` when the tool answered, `refused` for InvalidCursor; anything else raises."""
    try:
        getattr(tools, name)(**arguments, limit=2, cursor=cursor)
    except InvalidCursor as exc:
        assert exc.errors == {"cursor": [exc.message]} and "next_cursor" in exc.message
        return "refused"
    return "ok"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(_tool_table()))
def test_fuzzed_cursors_on_an_mcp_tool_are_refused_or_answered_never_a_crash(name: str, hub_rows: None) -> None:
    ordering, queryset, arguments = _tool_table()[name]
    real = getattr(tools, name)(**arguments, limit=2)["next_cursor"]
    assert real is not None
    values = cursor_values(real, ordering, queryset=queryset())
    real_json = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))["v"]

    # Each position of a real cursor in turn holds a value its field cannot hold.
    for position, field_name in enumerate(ordering):
        for bad in _refused_values(ordering_field(queryset(), field_name)):
            forged = _forged(ordering, [*real_json[:position], bad, *real_json[position + 1 :]])
            assert _call(name, arguments, forged) == "refused", (field_name, bad)
    for text in [*NASTY_TEXT, _forged(ordering, real_json[:-1]), _forged(("key",), real_json)]:
        assert _call(name, arguments, text) == "refused", text
    outcomes = [_call(name, arguments, cursor) for cursor in random_cursors()]
    assert set(outcomes) <= {"ok", "refused"}
    assert _call(name, arguments, real) == "ok" and len(values) == len(ordering)
