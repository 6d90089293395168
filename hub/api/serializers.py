"""Request and response shapes of the API; relations are named by their human key in both directions."""

from typing import Any

from django.db import models
from django.db.models import Model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import iter_options
from rest_framework.validators import UniqueValidator

from hub.models import (
    DECISION_OPTION_MAX_LENGTH,
    DECISION_OPTIONS_MAX,
    Decision,
    Domain,
    DomainGoal,
    ProgressEvent,
    Repo,
    Task,
    Workstream,
)
from hub.transitions import offered_statuses, rules_for
from statehub.api.links import KeyLinkField, ListLinkField, SelfLinkField


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of converting them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StatusField(StrictCharField):
    """A status as a plain string: the service maps older words, rejects unknown ones and checks the table.

    Forms show it as a select: every status on a create form, and on an object's page staying put
    or the moves `hub.transitions` allows from its current status (the admin offers the same).
    """

    def __init__(self, model: type[Model], **kwargs: Any) -> None:
        self.model = model
        rules = rules_for(model)
        self.offered = rules.statuses
        help_text = f"One of: {', '.join(sorted(rules.statuses))}."
        if rules.older_words:
            older = ", ".join(f"{old}→{new}" for old, new in rules.older_words.items())
            help_text += f" Older words accepted: {older}."
        kwargs.setdefault("help_text", help_text)
        kwargs.setdefault("style", {"base_template": "select.html"})
        super().__init__(required=False, max_length=20, **kwargs)

    def offer_from(self, current: str) -> None:
        """Offer only what an object in `current` may become."""
        self.offered = offered_statuses(self.model, current)

    def iter_options(self) -> Any:
        return iter_options({status: status for status in self.offered})


class HubModelSerializer(serializers.ModelSerializer):
    """A model serializer whose text fields accept only JSON strings.

    Uniqueness is left to the service (`full_clean` there reports a taken key as the same 400 field
    error), so a write does not run the same uniqueness query twice.
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }

    def build_standard_field(self, field_name: str, model_field: models.Field) -> tuple[type, dict[str, Any]]:
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if "validators" in field_kwargs:
            field_kwargs["validators"] = [
                validator for validator in field_kwargs["validators"] if not isinstance(validator, UniqueValidator)
            ]
        return field_class, field_kwargs

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        status = fields.get("status")
        if isinstance(status, StatusField) and isinstance(self.instance, Model):
            status.offer_from(self.instance.status)  # type: ignore[attr-defined]
        return fields


class KeyRelatedField(serializers.SlugRelatedField):
    """A relation written and shown as the related object's key; rejects non-strings before querying."""

    default_error_messages = {
        "does_not_exist": "No object with {slug_name} '{value}'.",
        "invalid": "Expected a key (a string).",
    }

    def __init__(self, **kwargs: Any) -> None:
        # Forms ask for the key as text: a select would load the related table, and past its first
        # 1,000 rows would silently offer another object than the current one.
        kwargs.setdefault("style", {"base_template": "input.html", "input_type": "text"})
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Model:
        if not isinstance(data, str) or "\x00" in data or not data:
            self.fail("invalid")
        return super().to_internal_value(data)


class DomainSerializer(HubModelSerializer):
    """A domain (by slug)."""

    status = StatusField(Domain, initial=Domain.Status.ACTIVE)
    url = SelfLinkField("domain-detail", lookup_field="slug")
    repos_url = ListLinkField("repo-list", filter_name="domain", lookup_field="slug")
    domain_goals_url = ListLinkField("domain-goal-list", filter_name="domain", lookup_field="slug")
    workstreams_url = ListLinkField("workstream-list", filter_name="domain", lookup_field="slug")

    class Meta:
        model = Domain
        fields = [
            "id",
            "slug",
            "url",
            "name",
            "description",
            "status",
            "created_at",
            "updated_at",
            "repos_url",
            "domain_goals_url",
            "workstreams_url",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class RepoSerializer(HubModelSerializer):
    """A registered repo; `domain` is the domain's slug."""

    domain = KeyRelatedField(slug_field="slug", queryset=Domain.objects.all(), required=False, allow_null=True)
    status = StatusField(Repo, initial=Repo.Status.ACTIVE)
    url = SelfLinkField("repo-detail", lookup_field="slug")
    domain_url = KeyLinkField("domain-detail", source="domain", lookup_field="slug")
    workstreams_url = ListLinkField("workstream-list", filter_name="repo", lookup_field="slug")
    tasks_url = ListLinkField("task-list", filter_name="repo", lookup_field="slug")
    decisions_url = ListLinkField("decision-list", filter_name="repo", lookup_field="slug")
    sync_url = SelfLinkField("repo-sync", lookup_field="slug")

    class Meta:
        model = Repo
        fields = [
            "id",
            "slug",
            "url",
            "name",
            "domain",
            "remote_url",
            "local_path",
            "workplan_dir",
            "default_branch",
            "status",
            "last_synced_at",
            "last_attempted_at",
            "created_at",
            "updated_at",
            "domain_url",
            "workstreams_url",
            "tasks_url",
            "decisions_url",
            "sync_url",
        ]
        read_only_fields = ["id", "last_synced_at", "last_attempted_at", "created_at", "updated_at"]


class DomainGoalSerializer(HubModelSerializer):
    """A domain goal; `domain` is the domain's slug. Activate it with `POST /domain-goals/{key}/activate`."""

    domain = KeyRelatedField(slug_field="slug", queryset=Domain.objects.all())
    status = StatusField(DomainGoal, initial=DomainGoal.Status.PROPOSED)
    url = SelfLinkField("domain-goal-detail")
    domain_url = KeyLinkField("domain-detail", source="domain", lookup_field="slug")
    workstreams_url = ListLinkField("workstream-list", filter_name="domain_goal")
    activate_url = SelfLinkField("domain-goal-activate")

    class Meta:
        model = DomainGoal
        fields = [
            "id",
            "key",
            "url",
            "domain",
            "title",
            "description",
            "status",
            "activated_at",
            "created_at",
            "updated_at",
            "domain_url",
            "workstreams_url",
            "activate_url",
        ]
        read_only_fields = ["id", "activated_at", "created_at", "updated_at"]
        # "One active goal per domain" is the activation service's rule (it supersedes); DRF's generated
        # validator for that conditional constraint would wrongly make `status` required.
        validators: list[object] = []


class TaskCountsSerializer(serializers.Serializer):
    """How many tasks a workstream has: in total, open (wait, todo, progress), and in each status (zero included)."""

    total = serializers.IntegerField()
    open = serializers.IntegerField(help_text="Tasks in wait, todo or progress.")
    wait = serializers.IntegerField()
    todo = serializers.IntegerField()
    progress = serializers.IntegerField()
    done = serializers.IntegerField()
    cancel = serializers.IntegerField()


class WorkstreamSerializer(HubModelSerializer):
    """A workstream (workplan) with its repo slug, domain slug and task counts."""

    repo = KeyRelatedField(slug_field="slug", queryset=Repo.objects.all())
    domain = serializers.CharField(source="repo.domain.slug", read_only=True, allow_null=True)
    domain_goal = KeyRelatedField(slug_field="key", queryset=DomainGoal.objects.all(), required=False, allow_null=True)
    status = StatusField(Workstream, initial=Workstream.Status.PROPOSED)
    tasks = TaskCountsSerializer(source="task_counts", read_only=True)
    sync_note = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="Set when the workstream is read from a workplan file: the file wins at the next sync.",
    )
    url = SelfLinkField("workstream-detail")
    repo_url = KeyLinkField("repo-detail", source="repo", lookup_field="slug", allow_null=False)
    domain_url = KeyLinkField("domain-detail", source="repo.domain", lookup_field="slug")
    domain_goal_url = KeyLinkField("domain-goal-detail", source="domain_goal")
    tasks_url = ListLinkField("task-list", filter_name="workstream")
    decisions_url = ListLinkField("decision-list", filter_name="workstream")
    progress_events_url = ListLinkField("progress-event-list", filter_name="workstream")

    class Meta:
        model = Workstream
        fields = [
            "id",
            "key",
            "url",
            "repo",
            "domain",
            "domain_goal",
            "title",
            "owner",
            "priority",
            "status",
            "completed_at",
            "source_path",
            "source_hash",
            "missing_from_repo_at",
            "sync_note",
            "tasks",
            "created_at",
            "updated_at",
            "repo_url",
            "domain_url",
            "domain_goal_url",
            "tasks_url",
            "decisions_url",
            "progress_events_url",
        ]
        read_only_fields = ["id", "completed_at", "missing_from_repo_at", "created_at", "updated_at"]


class TaskSerializer(HubModelSerializer):
    """A task; `workstream` is the workstream's key and `repo` its repo's slug."""

    workstream = KeyRelatedField(slug_field="key", queryset=Workstream.objects.select_related("repo"))
    repo = serializers.CharField(source="workstream.repo.slug", read_only=True)
    status = StatusField(Task, initial=Task.Status.TODO)
    # The create form preselects the model's default, as a JSON body without `priority` gets it.
    priority = serializers.ChoiceField(choices=Task.Priority.choices, required=False, initial=Task.Priority.MEDIUM)
    url = SelfLinkField("task-detail")
    workstream_url = KeyLinkField("workstream-detail", source="workstream", allow_null=False)
    repo_url = KeyLinkField("repo-detail", source="workstream.repo", lookup_field="slug", allow_null=False)
    progress_events_url = ListLinkField("progress-event-list", filter_name="task")

    class Meta:
        model = Task
        fields = [
            "id",
            "key",
            "url",
            "workstream",
            "repo",
            "title",
            "status",
            "priority",
            "order",
            "assignee",
            "blocking_reason",
            "last_activity_at",
            "missing_from_workplan_at",
            "created_at",
            "updated_at",
            "workstream_url",
            "repo_url",
            "progress_events_url",
        ]
        read_only_fields = ["id", "last_activity_at", "missing_from_workplan_at", "created_at", "updated_at"]


class BlankAsNullField(serializers.CharField):
    """A read-only text the model stores as "" when unset, shown as null (as the MCP tools and the events show it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return None if value is None or value == "" else str(value)


class DecisionSerializer(HubModelSerializer):
    """A decision; the resolution fields are set by `POST /decisions/{key}/resolve`."""

    options = serializers.ListField(
        child=StrictCharField(max_length=DECISION_OPTION_MAX_LENGTH), required=False, max_length=DECISION_OPTIONS_MAX
    )
    repo = KeyRelatedField(slug_field="slug", queryset=Repo.objects.all(), required=False, allow_null=True)
    workstream = KeyRelatedField(slug_field="key", queryset=Workstream.objects.all(), required=False, allow_null=True)
    status = StatusField(Decision, initial=Decision.Status.OPEN)
    url = SelfLinkField("decision-detail")
    repo_url = KeyLinkField("repo-detail", source="repo", lookup_field="slug")
    workstream_url = KeyLinkField("workstream-detail", source="workstream")
    resolve_url = SelfLinkField("decision-resolve")
    chosen_option = BlankAsNullField(
        help_text="The option chosen when it was resolved; null until then, or when none was."
    )

    class Meta:
        model = Decision
        fields = [
            "id",
            "key",
            "url",
            "title",
            "question",
            "options",
            "status",
            "repo",
            "workstream",
            "rationale",
            "chosen_option",
            "decided_by",
            "resolved_at",
            "created_at",
            "updated_at",
            "repo_url",
            "workstream_url",
            "resolve_url",
        ]
        read_only_fields = [
            "id",
            "rationale",
            "decided_by",
            "resolved_at",
            "created_at",
            "updated_at",
        ]


@extend_schema_field(OpenApiTypes.STR)  # the choices are each decision's own options
class OptionChoiceField(serializers.ChoiceField):
    """One of a decision's options (a string); the browsable API shows them as a select."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class DecisionResolveSerializer(serializers.Serializer):
    """The body of `POST /decisions/{key}/resolve`; `decided_by` defaults to the caller's username.

    `chosen_option` offers the options of the decision in the context (`"decision"`).
    """

    rationale = StrictCharField(style={"base_template": "textarea.html"})
    chosen_option = OptionChoiceField(choices=[], required=False, allow_null=True)
    decided_by = StrictCharField(required=False, max_length=200)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        decision = self.context.get("decision")
        options = list(decision.options) if decision is not None else []
        chosen_option = fields["chosen_option"]
        assert isinstance(chosen_option, OptionChoiceField)
        chosen_option.choices = options
        # The service's own words (it checks again, under the row lock).
        offered = (", ".join(options) or "none").replace("{", "{{").replace("}", "}}")
        chosen_option.error_messages["invalid_choice"] = f"'{{input}}' is not one of the options ({offered})."
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            fields["decided_by"].initial = request.user.get_username()
        return fields


class ProgressEventSerializer(HubModelSerializer):
    """An entry of the append-only progress log; `author` defaults to the caller's username."""

    workstream = KeyRelatedField(slug_field="key", queryset=Workstream.objects.all(), required=False, allow_null=True)
    task = KeyRelatedField(slug_field="key", queryset=Task.objects.all(), required=False, allow_null=True)
    event_type = serializers.ChoiceField(choices=ProgressEvent.EventType.choices, required=False)
    workstream_url = KeyLinkField("workstream-detail", source="workstream")
    task_url = KeyLinkField("task-detail", source="task")

    class Meta:
        model = ProgressEvent
        fields = [
            "id",
            "event_type",
            "summary",
            "detail",
            "workstream",
            "task",
            "author",
            "created_at",
            "workstream_url",
            "task_url",
        ]
        read_only_fields = ["id", "created_at"]


class NextStepSerializer(HubModelSerializer):
    """A task to work on next, with its workstream, repo and domain, and why it is next."""

    workstream = serializers.CharField(source="workstream.key", read_only=True)
    repo = serializers.CharField(source="workstream.repo.slug", read_only=True)
    domain = serializers.CharField(source="workstream.repo.domain.slug", read_only=True, allow_null=True)
    reason = serializers.ChoiceField(
        choices=["decision_resolved", "ready", "in_progress"],
        read_only=True,
        help_text="decision_resolved: its workstream had a decision resolved in the last 7 days; "
        "ready: a todo task; in_progress: a task in progress.",
    )
    url = SelfLinkField("task-detail")
    workstream_url = KeyLinkField("workstream-detail", source="workstream", allow_null=False)
    repo_url = KeyLinkField("repo-detail", source="workstream.repo", lookup_field="slug", allow_null=False)

    class Meta:
        model = Task
        fields = [
            "id",
            "key",
            "url",
            "title",
            "status",
            "priority",
            "order",
            "assignee",
            "workstream",
            "repo",
            "domain",
            "reason",
            "last_activity_at",
            "workstream_url",
            "repo_url",
        ]
        read_only_fields = fields
