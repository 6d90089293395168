"""Query filters of the list endpoints (django-filter); relations are filtered by their key."""

import django_filters

from hub.models import Decision, Domain, DomainGoal, ProgressEvent, Repo, Task, Workstream


class UpdatedSinceFilterSet(django_filters.FilterSet):
    """Adds `?updated_since=<ISO 8601 datetime>` (objects changed at or after that moment)."""

    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")


class DomainFilter(UpdatedSinceFilterSet):
    """Filters of `/domains/`."""

    status = django_filters.ChoiceFilter(choices=Domain.Status.choices)

    class Meta:
        model = Domain
        fields = ["status"]


class RepoFilter(UpdatedSinceFilterSet):
    """Filters of `/repos/`."""

    status = django_filters.ChoiceFilter(choices=Repo.Status.choices)
    domain = django_filters.CharFilter(field_name="domain__slug", max_length=100)

    class Meta:
        model = Repo
        fields = ["status", "domain"]


class DomainGoalFilter(UpdatedSinceFilterSet):
    """Filters of `/domain-goals/`."""

    status = django_filters.ChoiceFilter(choices=DomainGoal.Status.choices)
    domain = django_filters.CharFilter(field_name="domain__slug", max_length=100)

    class Meta:
        model = DomainGoal
        fields = ["status", "domain"]


class WorkstreamFilter(UpdatedSinceFilterSet):
    """Filters of `/workstreams/`."""

    status = django_filters.ChoiceFilter(choices=Workstream.Status.choices)
    repo = django_filters.CharFilter(field_name="repo__slug", max_length=100)
    domain = django_filters.CharFilter(field_name="repo__domain__slug", max_length=100)
    domain_goal = django_filters.CharFilter(field_name="domain_goal__key", max_length=100)
    owner = django_filters.CharFilter(max_length=200)
    priority = django_filters.NumberFilter(min_value=-(2**31), max_value=2**31 - 1)

    class Meta:
        model = Workstream
        fields = ["status", "repo", "domain", "domain_goal", "owner", "priority"]


class TaskFilter(UpdatedSinceFilterSet):
    """Filters of `/tasks/`."""

    status = django_filters.ChoiceFilter(choices=Task.Status.choices)
    priority = django_filters.ChoiceFilter(choices=Task.Priority.choices)
    workstream = django_filters.CharFilter(field_name="workstream__key", max_length=100)
    repo = django_filters.CharFilter(field_name="workstream__repo__slug", max_length=100)
    domain = django_filters.CharFilter(field_name="workstream__repo__domain__slug", max_length=100)
    assignee = django_filters.CharFilter(max_length=200)

    class Meta:
        model = Task
        fields = ["status", "priority", "workstream", "repo", "domain", "assignee"]


class DecisionFilter(UpdatedSinceFilterSet):
    """Filters of `/decisions/`."""

    status = django_filters.ChoiceFilter(choices=Decision.Status.choices)
    repo = django_filters.CharFilter(field_name="repo__slug", max_length=100)
    workstream = django_filters.CharFilter(field_name="workstream__key", max_length=100)

    class Meta:
        model = Decision
        fields = ["status", "repo", "workstream"]


class ProgressEventFilter(django_filters.FilterSet):
    """Filters of `/progress-events/` (append-only, so `since` is on creation time)."""

    event_type = django_filters.ChoiceFilter(choices=ProgressEvent.EventType.choices)
    workstream = django_filters.CharFilter(field_name="workstream__key", max_length=100)
    task = django_filters.CharFilter(field_name="task__key", max_length=120)
    author = django_filters.CharFilter(max_length=200)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = ProgressEvent
        fields = ["event_type", "workstream", "task", "author"]
