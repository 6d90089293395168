"""Request and response shapes of the API; relations are named by their human key in both directions."""

from typing import Any

from django.db import models
from django.db.models import Model
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from hub.models import Decision, Domain, DomainGoal, ProgressEvent, Repo, Task, Workstream
from hub.transitions import LEGACY_STATUS_WORDS, TRANSITIONS


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of converting them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


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


class KeyRelatedField(serializers.SlugRelatedField):
    """A relation written and shown as the related object's key; rejects non-strings before querying."""

    default_error_messages = {
        "does_not_exist": "No object with {slug_name} '{value}'.",
        "invalid": "Expected a key (a string).",
    }

    def to_internal_value(self, data: Any) -> Model:
        if not isinstance(data, str) or "\x00" in data or not data:
            self.fail("invalid")
        return super().to_internal_value(data)


def status_field(kind: str) -> StrictCharField:
    """A status as a plain string: the service maps older words and rejects unknown ones with a 400."""
    words = sorted(TRANSITIONS[kind])
    legacy = LEGACY_STATUS_WORDS.get(kind, {})
    help_text = f"One of: {', '.join(words)}."
    if legacy:
        help_text += " Older words accepted: " + ", ".join(f"{old}→{new}" for old, new in legacy.items()) + "."
    return StrictCharField(required=False, max_length=20, help_text=help_text)


class DomainSerializer(HubModelSerializer):
    """A domain (by slug)."""

    status = status_field("domain")

    class Meta:
        model = Domain
        fields = ["id", "slug", "name", "description", "status", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class RepoSerializer(HubModelSerializer):
    """A registered repo; `domain` is the domain's slug."""

    domain = KeyRelatedField(slug_field="slug", queryset=Domain.objects.all(), required=False, allow_null=True)
    status = status_field("repo")

    class Meta:
        model = Repo
        fields = [
            "id",
            "slug",
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
        ]
        read_only_fields = ["id", "last_synced_at", "last_attempted_at", "created_at", "updated_at"]


class DomainGoalSerializer(HubModelSerializer):
    """A domain goal; `domain` is the domain's slug. Activate it with `POST /domain-goals/{key}/activate`."""

    domain = KeyRelatedField(slug_field="slug", queryset=Domain.objects.all())
    status = status_field("domain_goal")

    class Meta:
        model = DomainGoal
        fields = ["id", "key", "domain", "title", "description", "status", "activated_at", "created_at", "updated_at"]
        read_only_fields = ["id", "activated_at", "created_at", "updated_at"]
        # "One active goal per domain" is the activation service's rule (it supersedes); DRF's generated
        # validator for that conditional constraint would wrongly make `status` required.
        validators: list[object] = []


class TaskCountsSerializer(serializers.Serializer):
    """How many tasks a workstream has, in total and by state."""

    total = serializers.IntegerField(source="tasks_total")
    open = serializers.IntegerField(source="tasks_open")
    done = serializers.IntegerField(source="tasks_done")


class WorkstreamSerializer(HubModelSerializer):
    """A workstream (workplan) with its repo slug, domain slug and task counts."""

    repo = KeyRelatedField(slug_field="slug", queryset=Repo.objects.all())
    domain = serializers.CharField(source="repo.domain.slug", read_only=True, allow_null=True)
    domain_goal = KeyRelatedField(slug_field="key", queryset=DomainGoal.objects.all(), required=False, allow_null=True)
    status = status_field("workstream")
    tasks = TaskCountsSerializer(source="*", read_only=True)
    sync_note = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="Set when the workstream is read from a workplan file: the file wins at the next sync.",
    )

    class Meta:
        model = Workstream
        fields = [
            "id",
            "key",
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
        ]
        read_only_fields = ["id", "completed_at", "missing_from_repo_at", "created_at", "updated_at"]


class TaskSerializer(HubModelSerializer):
    """A task; `workstream` is the workstream's key and `repo` its repo's slug."""

    workstream = KeyRelatedField(slug_field="key", queryset=Workstream.objects.select_related("repo"))
    repo = serializers.CharField(source="workstream.repo.slug", read_only=True)
    status = status_field("task")
    priority = serializers.ChoiceField(choices=Task.Priority.choices, required=False)

    class Meta:
        model = Task
        fields = [
            "id",
            "key",
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
        ]
        read_only_fields = ["id", "last_activity_at", "missing_from_workplan_at", "created_at", "updated_at"]


class DecisionSerializer(HubModelSerializer):
    """A decision; the resolution fields are set by `POST /decisions/{key}/resolve`."""

    options = serializers.ListField(child=StrictCharField(max_length=300), required=False, max_length=100)
    repo = KeyRelatedField(slug_field="slug", queryset=Repo.objects.all(), required=False, allow_null=True)
    workstream = KeyRelatedField(slug_field="key", queryset=Workstream.objects.all(), required=False, allow_null=True)
    status = status_field("decision")

    class Meta:
        model = Decision
        fields = [
            "id",
            "key",
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
        ]
        read_only_fields = [
            "id",
            "rationale",
            "chosen_option",
            "decided_by",
            "resolved_at",
            "created_at",
            "updated_at",
        ]


class DecisionResolveSerializer(serializers.Serializer):
    """The body of `POST /decisions/{key}/resolve`; `decided_by` defaults to the caller's username."""

    rationale = StrictCharField()
    chosen_option = StrictCharField(required=False, allow_null=True, max_length=300)
    decided_by = StrictCharField(required=False, max_length=200)


class ProgressEventSerializer(HubModelSerializer):
    """An entry of the append-only progress log; `author` defaults to the caller's username."""

    workstream = KeyRelatedField(slug_field="key", queryset=Workstream.objects.all(), required=False, allow_null=True)
    task = KeyRelatedField(slug_field="key", queryset=Task.objects.all(), required=False, allow_null=True)
    event_type = serializers.ChoiceField(choices=ProgressEvent.EventType.choices, required=False)

    class Meta:
        model = ProgressEvent
        fields = ["id", "event_type", "summary", "detail", "workstream", "task", "author", "created_at"]
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

    class Meta:
        model = Task
        fields = [
            "id",
            "key",
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
        ]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    """An error that is not about one field: a 401, 403, 404, 409 or 429."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False)
