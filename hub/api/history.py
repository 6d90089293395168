"""`GET /<objects>/{key}/history/`: an object's changes, newest first, each with its time, user, door and fields.

The history rows (django-simple-history, written in the transaction of each change) are full
snapshots; what a change changed is the difference from the row before it, computed here for a
page at a time (one extra query for the row before the page's oldest). Relations are named by key,
as everywhere in the API (one query per related model on the page).
"""

from collections import defaultdict
from typing import Any

from django.db import models
from django.forms.models import model_to_dict
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

CHANGE_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


class FieldChangeSerializer(serializers.Serializer):
    """One field a change set: its value before (null on creation) and after."""

    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    """One change of an object."""

    time = serializers.DateTimeField(help_text="When the change was made.")
    user = serializers.CharField(
        allow_null=True,
        help_text="Username of who made it (for a sync, who started it); null for a management command.",
    )
    door = serializers.CharField(help_text="Where it came through: api, admin, mcp, sync or command.")
    change = serializers.ChoiceField(choices=sorted(CHANGE_TYPES.values()))
    changed_fields = serializers.ListField(child=serializers.CharField())
    changes = FieldChangeSerializer(many=True)


HistoryPageSerializer = inline_serializer(
    "PaginatedHistoryEntryList",
    {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": HistoryEntrySerializer(many=True),
    },
)


def _tracked_fields(record: Any) -> list[str]:
    return [field.name for field in record.tracked_fields if field.editable]


def _key_field(model: type[models.Model]) -> str:
    names = {field.name for field in model._meta.fields}
    return "slug" if "slug" in names else "key"


def history_entries(records: list[Any], *, before_oldest: Any | None) -> list[dict[str, Any]]:
    """The entries of a page of history rows (newest first); `before_oldest` is the row preceding the page."""
    entries: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        previous = records[index + 1] if index + 1 < len(records) else before_oldest
        if previous is None or record.history_type == "+":
            values = model_to_dict(record, fields=_tracked_fields(record))
            changes = [{"field": name, "old": None, "new": values[name]} for name in sorted(values)]
        else:
            delta = record.diff_against(previous)
            changes = [{"field": change.field, "old": change.old, "new": change.new} for change in delta.changes]
        entries.append(
            {
                "time": record.history_date,
                "user": record.history_user.get_username() if record.history_user_id else None,
                "door": record.door,
                "change": CHANGE_TYPES[record.history_type],
                "changed_fields": [change["field"] for change in changes],
                "changes": changes,
            }
        )
    if records:
        _relations_by_key(type(records[0]).instance_type, entries)
    return entries


def _relations_by_key(model: type[models.Model], entries: list[dict[str, Any]]) -> None:
    """Replace related objects' ids in the changes by their keys (slugs), one query per related model."""
    relations = {
        field.name: field.related_model
        for field in model._meta.fields
        if isinstance(field, models.ForeignKey) and field.related_model is not None
    }
    wanted: dict[Any, set[Any]] = defaultdict(set)
    for entry in entries:
        for change in entry["changes"]:
            related = relations.get(change["field"])
            if related is not None:
                wanted[related].update(value for value in (change["old"], change["new"]) if value is not None)
    keys: dict[Any, dict[Any, str]] = {}
    for related, ids in wanted.items():
        keys[related] = dict(related._default_manager.filter(pk__in=ids).values_list("pk", _key_field(related)))
    for entry in entries:
        for change in entry["changes"]:
            related = relations.get(change["field"])
            if related is not None:
                for side in ("old", "new"):
                    value = change[side]
                    if value is not None:
                        # A related object deleted since keeps its id.
                        change[side] = keys[related].get(value, str(value))
