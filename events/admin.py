"""Admin for the outbox: a read-only audit of recorded events, with requeue and publish-now actions."""

import json
import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from events.errors import OutboxStateError
from events.models import OutboxEvent
from events.services import outbox_event_publish_now, outbox_event_requeue
from events.subjects import REGISTRY
from statehub.changelists import PagedChangelistMixin


class SubjectFilter(admin.SimpleListFilter):
    """Filter by subject, offering the registered subjects (no scan of the table for distinct values)."""

    title = "subject"
    parameter_name = "subject"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in sorted(REGISTRY)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> QuerySet[OutboxEvent]:
        value = self.value()
        return queryset.filter(subject=value) if value else queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(PagedChangelistMixin, admin.ModelAdmin):
    """Events can be read, requeued and published now, but never added, edited or deleted here."""

    list_display = (
        "id",
        "subject",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "published_at",
        "stream_seq",
    )
    # The outbox is an audit log of a million rows: the filters offer fixed choices (the subject
    # registry, date ranges) instead of reading distinct values from every row, as `date_hierarchy`
    # and a plain `subject` filter would; the page count stops counting at 10,000 rows.
    list_filter = ("status", SubjectFilter, ("created_at", admin.DateFieldListFilter))
    search_fields = ("subject",)
    ordering = ("-created_at",)
    # The trace context names the write's trace: paste its trace id into the trace back end.
    fields = (*list_display, "last_error", "traceparent", "tracestate", "envelope_pretty")
    readonly_fields = fields
    actions = ("requeue", "publish_now")

    @admin.display(description="envelope")
    def envelope_pretty(self, event: OutboxEvent) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(event.envelope, indent=2, ensure_ascii=False))

    def search_results(
        self, request: HttpRequest, queryset: QuerySet[OutboxEvent], search_term: str
    ) -> tuple[QuerySet[OutboxEvent], bool]:
        """An exact event id when the term is a UUID; otherwise the registered subjects whose name contains it.

        Matching the term against the registry, not against a million rows' subjects, keeps the
        search an index lookup (`subject IN (...)`).
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(id=uuid.UUID(term)), False
        except ValueError:
            pass
        subjects = [name for name in REGISTRY if term.lower() in name.lower()]
        return queryset.filter(subject__in=subjects), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.requeue_outboxevent")

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.publish_outboxevent")

    @admin.action(description="Requeue selected failed/skipped events", permissions=["requeue"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        self._apply(request, queryset, outbox_event_requeue, "requeued")

    @admin.action(description="Publish selected pending events now", permissions=["publish"])
    def publish_now(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        self._apply(request, queryset, outbox_event_publish_now, "handed to the publisher")

    def _apply(self, request: HttpRequest, queryset: QuerySet[OutboxEvent], service: Any, done: str) -> None:
        succeeded, refused = 0, []
        for event in queryset:
            try:
                service(event=event)
            except OutboxStateError as exc:
                refused.append(f"{event.id}: {exc}")
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{succeeded} event(s) {done}.", messages.SUCCESS)
        for message in refused[:10]:
            self.message_user(request, message, messages.WARNING)
