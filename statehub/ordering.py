"""Orderings on a choice field follow the order of its choices (a lifecycle, a rank), not the alphabet.

A task's `priority` sorts low, medium, high, critical (`-priority`: critical first) and a status
sorts in its lifecycle order (a task: wait, todo, progress, done, cancel), as the choices are
declared on the model. The rank is one SQL `CASE` built here, from the choices; the API's
`?ordering=`, the admin's column sorting and the expression indexes of the large tables all use
this same expression, so PostgreSQL matches the index to the query (it does so only for an
identical expression).
"""

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Case, IntegerField, Value, When
from django.db.models.expressions import OrderBy


def choice_rank(field_name: str, values: Sequence[str]) -> Case:
    """The position of `field_name`'s value among `values` (a value outside them ranks last)."""
    return Case(
        *[When(**{field_name: value}, then=Value(rank)) for rank, value in enumerate(values)],
        default=Value(len(values)),
        output_field=IntegerField(),
    )


def field_rank(model: type[models.Model], field_name: str) -> Case | None:
    """The rank of a choice field of `model` in the order of its choices; None for any other field."""
    try:
        model_field = model._meta.get_field(field_name)
    except FieldDoesNotExist:
        return None
    choices = getattr(model_field, "flatchoices", None)
    if not choices:
        return None
    return choice_rank(field_name, [str(value) for value, _ in choices])


def by_meaning(model: type[models.Model], terms: Sequence[Any]) -> list[Any]:
    """Order terms (`"status"`, `"-priority"`, expressions) with each choice field replaced by its rank."""
    ordered: list[Any] = []
    for term in terms:
        rank = field_rank(model, term.lstrip("-")) if isinstance(term, str) else None
        if rank is None:
            ordered.append(term)
        else:
            ordered.append(rank.desc() if term.startswith("-") else rank.asc())
    return ordered


def is_ranked(term: Any) -> bool:
    """Whether an order term is a choice rank made by `by_meaning`."""
    return isinstance(term, OrderBy) and isinstance(term.expression, Case)
