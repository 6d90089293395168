"""Django admin for manual state edits; every add and change goes through the hub's services."""

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models, transaction
from django.forms.models import construct_instance
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from simple_history.admin import SimpleHistoryAdmin

from hub import access, services, tokens
from hub.models import (
    DECISION_OPTION_MAX_LENGTH,
    DECISION_OPTIONS_MAX,
    ApiToken,
    Decision,
    Domain,
    DomainAccess,
    DomainGoal,
    ProgressEvent,
    Repo,
    Task,
    Workstream,
)
from hub.services.decisions import RESOLUTION_FIELDS
from hub.transitions import TRANSITIONS, offered_statuses
from hub.workplan_contradictions import workstreams_status_contradictions
from statehub.changelists import PagedChangelistMixin
from statehub.errors import ServiceError


class _DryRunRollback(Exception):
    pass


class ServiceForm(forms.ModelForm):
    """A model form whose validation runs the real service in a savepoint that is rolled back.

    The same rules as the API apply (transition table, domain checks), and a broken one shows as
    a form error rather than a server error. Model-level uniqueness is left to the service.
    """

    service_call: Callable[[models.Model | None, dict[str, Any], str], models.Model]
    actor: str = ""
    user: Any = None  # who saves: `hub.access` decides whether the object, as saved, is theirs to write

    def _post_clean(self) -> None:
        # Model validation (fields, uniqueness, constraints) is the service's job, run in `clean`;
        # the model's own check would wrongly refuse e.g. activating a goal that supersedes another.
        self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)

    def service_data(self) -> dict[str, Any]:
        assert self.cleaned_data is not None
        if self.instance._state.adding:
            return {name: self.cleaned_data[name] for name in self.fields if name in self.cleaned_data}
        return {name: self.cleaned_data[name] for name in self.changed_data if name in self.cleaned_data}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        existing = (
            None if self.instance._state.adding else type(self.instance)._default_manager.get(pk=self.instance.pk)
        )
        model = type(self.instance)
        data = self.service_data()
        action = access.ADD if existing is None else access.CHANGE
        domains = access.domains_after(model, data, existing)
        if existing is not None:
            domains = domains | access.domains_of(existing)
        reason = access.refusal(self.user, None, model, domains, action=action)
        if reason is not None:
            self.add_error(None, reason)
            return cleaned
        try:
            with transaction.atomic():
                type(self).service_call(existing, self.service_data(), self.actor)
                raise _DryRunRollback
        except _DryRunRollback:
            pass
        except ServiceError as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            if not exc.errors:
                self.add_error(None, exc.message)
        return cleaned


class ServiceAdmin(PagedChangelistMixin, admin.ModelAdmin):
    """Admin whose saves call the hub's services instead of `Model.save()`."""

    form = ServiceForm
    service: Callable[[models.Model | None, dict[str, Any], str], models.Model]
    # The envelope attribute by which this model's lifecycle events name an object (with its `events_key_field`),
    # for the link from a change page to the outbox; None for a model no event names.
    events_attribute: str | None = None
    events_key_field = "key"
    # Ends a sort by a choice column (statehub.changelists.PagedChangeList), as the API's lists end theirs.
    ordering_tiebreak = "key"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.service_call = staticmethod(type(self).service)  # type: ignore[attr-defined]
        form.actor = getattr(request.user, "username", "")  # type: ignore[attr-defined]
        form.user = request.user  # type: ignore[attr-defined]
        status = form.base_fields.get("status")
        if obj is not None and self.model in TRANSITIONS and isinstance(status, forms.ChoiceField):
            # Offer only what the transition table allows from here (and staying put); the form
            # class is built for this request, so narrowing its field touches no other form.
            offered = set(offered_statuses(self.model, obj.status))
            model_choices = type(obj)._meta.get_field("status").choices or []
            status.choices = [(value, label) for value, label in model_choices if value in offered]
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        existing = type(obj)._default_manager.get(pk=obj.pk) if change else None
        result = type(self).service(existing, form.service_data(), getattr(request.user, "username", ""))
        obj.__dict__.update({k: v for k, v in result.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The hub flags instead of deleting (ADR-001); deletes would bypass services and events.
        return False

    # Who may do what (`hub.access`): every staff user reads everything; writes follow the domain.

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def _may_write_some(self, request: HttpRequest, action: str) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        if user.is_superuser or user.has_perm(f"{self.opts.app_label}.{action}_{self.opts.model_name}"):
            return True
        return self.model in access.DOMAIN_FIELDS and access.may_edit_any(user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_write_some(request, access.ADD)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return self._may_write_some(request, access.CHANGE)
        return bool(request.user.is_staff) and access.may_change(request.user, None, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """A relation that decides the object's domain offers only the domains the user may write in."""
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        queryset = getattr(field, "queryset", None)
        if field is not None and queryset is not None and db_field.name in access.DOMAIN_FIELDS.get(self.model, ()):
            allowed = access.editable_domain_ids(request.user, self.model)
            if allowed is not None:
                path = RELATION_DOMAIN_PATHS[db_field.related_model]
                field.queryset = queryset.filter(**{f"{path}__in": allowed})
        return field

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and self.events_attribute:
            fields.append("outbox_events")
        return fields

    @admin.display(description="outbox events")
    def outbox_events(self, obj: Any) -> str:
        """A link to the outbox changelist showing the lifecycle events that name this object."""
        assert self.events_attribute is not None
        query = urlencode({f"envelope__attributes__{self.events_attribute}": getattr(obj, self.events_key_field)})
        url = reverse("admin:events_outboxevent_changelist") + "?" + query
        return format_html('<a href="{}">Events naming {} {}</a>', url, obj._meta.verbose_name, obj)

    def change_each(self, request: HttpRequest, queryset: Any, data: dict[str, Any], done: str) -> None:
        """A bulk action: the service for each selected object, one transaction each, and what failed by name."""
        changed, refused, skipped = 0, [], 0
        actor = getattr(request.user, "username", "")
        for obj in queryset.order_by("pk"):
            if not access.may_change(request.user, None, obj):
                skipped += 1  # acts only on the rows the user may change
                continue
            try:
                type(self).service(obj, data, actor)
            except ServiceError as exc:
                refused.append(f"{obj}: {exc.message}")
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} {done}.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{len(refused)} refused — " + "; ".join(refused), messages.WARNING)
        if skipped:
            self.message_user(
                request,
                f"{skipped} skipped: not in a domain you may edit.",
                messages.WARNING,
            )


class TrackedServiceAdmin(ServiceAdmin, SimpleHistoryAdmin):
    """A service admin whose history page (django-simple-history) lists every change of the object.

    Each with its time, user, change type, changed fields and the door it came through; the page
    offers no revert (`SIMPLE_HISTORY_REVERT_DISABLED`), and a save still goes through the service.
    """

    history_list_display = ["door"]


# How a related model reaches its domain, to narrow a form's choices to the domains a user may write in.
RELATION_DOMAIN_PATHS: dict[Any, str] = {
    Domain: "id",
    Repo: "domain",
    Workstream: "repo__domain",
    Task: "workstream__repo__domain",
}


@functools.cache
def _change_url_pattern(app_label: str, model_name: str, script_prefix: str) -> str:
    # Resolved once per model (and prefix): a changelist shows up to two links on each of its 100 rows.
    return reverse(f"admin:{app_label}_{model_name}_change", args=["__pk__"])


def _link(obj: models.Model | None, label: str | None = None) -> str:
    if obj is None:
        return "—"
    pattern = _change_url_pattern(obj._meta.app_label, str(obj._meta.model_name), get_script_prefix())
    url = pattern.replace("__pk__", str(obj.pk))
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


class DomainAccessInline(admin.TabularInline):
    """Who may edit (or is recorded as reading) this domain; org admins manage it (`hub.*_domainaccess`).

    Each grant and revoke made here is a history row of door `admin` (as from `manage.py
    domain_access`, door `command`, and `/domains/{slug}/members/`, door `api`).
    """

    model = DomainAccess
    fields = ["user", "group", "role", "created_at"]
    readonly_fields = ["created_at"]
    raw_id_fields = ["user"]
    extra = 0
    verbose_name = "member"
    verbose_name_plural = "members (domain access)"


@admin.register(Domain)
class DomainAdmin(TrackedServiceAdmin):
    inlines = [DomainAccessInline]
    list_display = ["slug", "name", "status", "updated_at"]
    events_attribute = "domain_slug"
    events_key_field = "slug"
    ordering_tiebreak = "slug"
    list_filter = ["status"]
    search_fields = ["slug", "name"]
    readonly_fields = ["id", "created_at", "updated_at"]

    @staticmethod
    def service(obj: Any, data: dict[str, Any], actor: str) -> Domain:
        return services.domain_update(domain=obj, data=data) if obj else services.domain_create(data=data)


@admin.register(Repo)
class RepoAdmin(TrackedServiceAdmin):
    list_display = ["slug", "name", "domain_link", "status", "last_synced_at"]
    events_attribute = "repo_slug"
    events_key_field = "slug"
    ordering_tiebreak = "slug"
    list_filter = ["status", "domain"]
    search_fields = ["slug", "name", "remote_url"]
    list_select_related = ["domain"]
    readonly_fields = ["id", "last_synced_at", "last_attempted_at", "created_at", "updated_at"]

    @admin.display(description="domain", ordering="domain__slug")
    def domain_link(self, obj: Repo) -> str:
        return _link(obj.domain)

    @staticmethod
    def service(obj: Any, data: dict[str, Any], actor: str) -> Repo:
        return services.repo_update(repo=obj, data=data) if obj else services.repo_register(data=data)


@admin.register(DomainGoal)
class DomainGoalAdmin(TrackedServiceAdmin):
    list_display = ["key", "title", "domain_link", "status", "activated_at"]
    events_attribute = "goal_key"
    list_filter = ["status", "domain"]
    search_fields = ["key", "title"]
    list_select_related = ["domain"]
    readonly_fields = ["id", "activated_at", "created_at", "updated_at"]

    @admin.display(description="domain", ordering="domain__slug")
    def domain_link(self, obj: DomainGoal) -> str:
        return _link(obj.domain)

    @staticmethod
    def service(obj: Any, data: dict[str, Any], actor: str) -> DomainGoal:
        return services.domain_goal_update(goal=obj, data=data) if obj else services.domain_goal_create(data=data)


class TaskInline(admin.TabularInline):
    model = Task
    fields = ["key", "title", "status", "priority", "assignee", "order"]
    readonly_fields = ("key", "title", "status", "priority", "assignee", "order")
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The admin's name for `workstream_update(despite_workplan=...)`: a form field, and the confirmation page's answer.
DESPITE_WORKPLAN = "despite_workplan"


class WorkstreamForm(ServiceForm):
    """The workstream form; for one a workplan file describes, a box to set a status the file contradicts."""

    despite_workplan = forms.BooleanField(
        required=False,
        label="Change it despite the workplan file",
        help_text="The file wins: the next sync moves the status back to the file's, or reports a conflict "
        "on every run until the file agrees. Without this box, a status the file contradicts is refused.",
    )


@admin.register(Workstream)
class WorkstreamAdmin(TrackedServiceAdmin):
    form = WorkstreamForm
    list_display = ["key", "title", "repo_link", "status", "priority", "owner", "updated_at"]
    events_attribute = "workstream_key"
    # No filter by repo: its sidebar would list every repo on every page (200 links at 4,000
    # workstreams); a repo's slug in the search box finds its workstreams instead.
    list_filter = ["status", "repo__domain"]
    search_fields = ["key", "title", "owner", "repo__slug"]
    list_select_related = ["repo"]
    readonly_fields = [
        "id",
        "sync_note",
        "completed_at",
        "source_path",
        "source_hash",
        "missing_from_repo_at",
        "created_at",
        "updated_at",
    ]
    autocomplete_fields = ["repo", "domain_goal"]
    inlines = [TaskInline]

    actions = ["complete_selected"]

    @admin.display(description="repo", ordering="repo__slug")
    def repo_link(self, obj: Workstream) -> str:
        return _link(obj.repo)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None or not obj.source_path:
            # Only a workstream read from a workplan file has a file to contradict; the class is this request's.
            form.base_fields.pop(DESPITE_WORKPLAN, None)
        return form

    @admin.action(description="Complete selected workstreams", permissions=["change"])
    def complete_selected(self, request: HttpRequest, queryset: Any) -> TemplateResponse | None:
        return self.change_status_of_selected(
            request, queryset, Workstream.Status.COMPLETED, action="complete_selected", done="workstream(s) completed"
        )

    def change_status_of_selected(
        self, request: HttpRequest, queryset: Any, status: str, *, action: str, done: str
    ) -> TemplateResponse | None:
        """A bulk status change; where workplan files say otherwise, first a page naming them asks to confirm."""
        despite = request.POST.get(DESPITE_WORKPLAN) == "yes"
        if not despite:
            contradictions = workstreams_status_contradictions(workstreams=queryset.order_by("pk"), status=status)
            if contradictions:
                context = {
                    **self.admin_site.each_context(request),
                    "title": "Change workstreams despite their workplan files",
                    "opts": self.model._meta,
                    "queryset": queryset,
                    "contradictions": contradictions,
                    "action": action,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "media": self.media,
                }
                return TemplateResponse(request, "admin/hub/workstream/confirm_despite_workplan.html", context)
        self.change_each(request, queryset, {"status": status, DESPITE_WORKPLAN: despite}, done)
        return None

    @staticmethod
    def service(obj: Any, data: dict[str, Any], actor: str) -> Workstream:
        data = dict(data)
        despite = bool(data.pop(DESPITE_WORKPLAN, False))
        if obj is None:
            return services.workstream_create(data=data)
        return services.workstream_update(workstream=obj, data=data, despite_workplan=despite)


@admin.register(Task)
class TaskAdmin(TrackedServiceAdmin):
    list_display = ["key", "title", "workstream_link", "status", "priority", "assignee", "missing_from_workplan_at"]
    events_attribute = "task_key"
    list_filter = ["status", "priority", "workstream__status"]
    search_fields = ["key", "title", "assignee"]
    list_select_related = ["workstream"]
    readonly_fields = ["id", "last_activity_at", "created_at", "updated_at"]
    autocomplete_fields = ["workstream"]

    actions = ["cancel_selected"]

    @admin.display(description="workstream", ordering="workstream__key")
    def workstream_link(self, obj: Task) -> str:
        return _link(obj.workstream)

    @admin.action(description="Cancel selected tasks", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: Any) -> None:
        self.change_each(request, queryset, {"status": Task.Status.CANCEL}, "task(s) canceled")

    @staticmethod
    def service(obj: Any, data: dict[str, Any], actor: str) -> Task:
        return services.task_update(task=obj, data=data) if obj else services.task_create(data=data)


class OptionListField(forms.Field):
    """A list of strings edited one per line: blank lines are dropped, each line is trimmed."""

    widget = forms.Textarea(attrs={"rows": 5})
    default_error_messages = {
        "too_many": "At most %(limit)d options.",
        "too_long": "An option has at most %(limit)d characters: %(option)s",
    }

    def __init__(self, *, max_items: int, max_length: int, **kwargs: Any) -> None:
        self.max_items, self.max_length = max_items, max_length
        kwargs.setdefault("help_text", "One option per line.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > self.max_items:
            raise forms.ValidationError(self.error_messages["too_many"], params={"limit": self.max_items})
        for option in value:
            if len(option) > self.max_length:
                raise forms.ValidationError(
                    self.error_messages["too_long"], params={"limit": self.max_length, "option": option[:40] + "…"}
                )

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial or []) != self.to_python(data)


class DecisionForm(ServiceForm):
    """The decision form: options one per line, and `chosen_option` a choice of the decision's options.

    The same shapes as the API: `options` a list of strings, and the resolution form's
    `chosen_option` offering the options the decision has (the service checks it again).
    """

    options = OptionListField(required=False, max_items=DECISION_OPTIONS_MAX, max_length=DECISION_OPTION_MAX_LENGTH)
    chosen_option = forms.ChoiceField(
        required=False,
        help_text="One of the decision's options (as saved), when resolving it.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = list(self.instance.options or [])
        if self.instance.chosen_option and self.instance.chosen_option not in options:
            # An answer recorded before options were checked stays shown as it is, not silently blanked.
            options.append(self.instance.chosen_option)
        chosen = self.fields["chosen_option"]
        assert isinstance(chosen, forms.ChoiceField)
        chosen.choices = [("", "—")] + [(option, option) for option in options]


@admin.register(Decision)
class DecisionAdmin(TrackedServiceAdmin):
    form = DecisionForm
    list_display = ["key", "title", "status", "repo_link", "workstream_link", "resolved_at"]
    events_attribute = "decision_key"
    list_filter = ["status"]
    search_fields = ["key", "title", "question"]
    list_select_related = ["repo", "workstream"]
    readonly_fields = ["id", "resolved_at", "created_at", "updated_at"]
    autocomplete_fields = ["repo", "workstream"]

    @admin.display(description="repo", ordering="repo__slug")
    def repo_link(self, obj: Decision) -> str:
        return _link(obj.repo)

    @admin.display(description="workstream", ordering="workstream__key")
    def workstream_link(self, obj: Decision) -> str:
        return _link(obj.workstream)

    @staticmethod
    def service(obj: Any, data: dict[str, Any], actor: str) -> Decision:
        if obj is None:
            # Resolution fields are set by resolving, never on creation; the add form shows them empty.
            data = {name: value for name, value in data.items() if value or name not in RESOLUTION_FIELDS}
            return services.decision_create(data=data)
        return services.decision_update(decision=obj, data=data, actor=actor)


@admin.register(ProgressEvent)
class ProgressEventAdmin(ServiceAdmin):
    list_display = ["created_at", "event_type", "summary", "workstream_link", "task_link", "author"]
    ordering_tiebreak = "id"
    list_filter = ["event_type"]
    search_fields = ["summary", "detail", "author"]
    list_select_related = ["workstream", "task"]
    readonly_fields = ["id", "created_at", "updated_at"]
    autocomplete_fields = ["workstream", "task"]

    @admin.display(description="workstream")
    def workstream_link(self, obj: ProgressEvent) -> str:
        return _link(obj.workstream)

    @admin.display(description="task")
    def task_link(self, obj: ProgressEvent) -> str:
        return _link(obj.task)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The progress log is append-only.
        return obj is None and super().has_change_permission(request, obj)

    @staticmethod
    def service(obj: Any, data: dict[str, Any], actor: str) -> ProgressEvent:
        return services.progress_event_add(**{**data, "author": data.get("author") or actor})


class ApiTokenAddForm(forms.ModelForm):
    """A new token: its user, name and scope; the lifetime in days (empty: never expires)."""

    expires_in_days = forms.FloatField(required=False, min_value=0.001, max_value=3650, help_text="Empty: never.")
    mcp_tools = forms.MultipleChoiceField(
        required=False,
        choices=[(name, name) for name in sorted(access.MCP_WRITE_TOOLS)],
        widget=forms.CheckboxSelectMultiple,
        help_text="Write only through these MCP tools, nothing else (none ticked: no such limit).",
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "read_only", "domains"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: created here (the secret shown once, in a message), revoked by deleting; never edited.

    The table holds each token's hash and first 15 characters, not the token.
    """

    list_display = ["name", "user", "created", "expiry", "last_used_at", "read_only", "scope"]
    list_select_related = ["user"]
    list_filter = ["read_only"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user"]
    filter_horizontal = ["domains"]
    ordering = ["user__username", "name"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["user", "name", "expires_in_days", "read_only", "domains", "mcp_tools"]
        return ["user", "name", "created", "expiry", "last_used_at", "read_only", "domains", "mcp_tools"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a token's scope is fixed at creation: revoke it and create another

    @admin.display(description="scope")
    def scope(self, obj: ApiToken) -> str:
        parts = [*(["read-only"] if obj.read_only else []), *(f"mcp {tool}" for tool in obj.mcp_tools)]
        return ", ".join(parts) or "—"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        days = data.get("expires_in_days")
        try:
            issued = tokens.token_create(
                user=data["user"],
                name=data["name"],
                expires_in=dt.timedelta(days=days) if days else None,
                read_only=data["read_only"],
                domains=[domain.slug for domain in data["domains"]],
                mcp_tools=data.get("mcp_tools") or [],
            )
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = issued.token.pk
        self.message_user(
            request,
            f"The token {issued.token} (shown this once; only its hash is kept): {issued.secret}",
            messages.WARNING,
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # token_create set the domains
