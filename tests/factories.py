"""factory-boy factories for every hub model (rows written directly, for arranging tests)."""

import factory
from django.utils import timezone

from hub.models import Decision, Domain, DomainGoal, ProgressEvent, Repo, Task, Workstream


class DomainFactory(factory.django.DjangoModelFactory[Domain]):
    class Meta:
        model = Domain
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"domain-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class RepoFactory(factory.django.DjangoModelFactory[Repo]):
    class Meta:
        model = Repo

    slug = factory.Sequence(lambda n: f"repo-{n}")
    name = factory.LazyAttribute(lambda o: o.slug)
    domain = factory.SubFactory(DomainFactory)
    remote_url = factory.LazyAttribute(lambda o: f"git@example.org:org/{o.slug}.git")


class DomainGoalFactory(factory.django.DjangoModelFactory[DomainGoal]):
    class Meta:
        model = DomainGoal

    key = factory.Sequence(lambda n: f"goal-{n}")
    domain = factory.SubFactory(DomainFactory)
    title = factory.Sequence(lambda n: f"Goal {n}")
    status = DomainGoal.Status.PROPOSED


class WorkstreamFactory(factory.django.DjangoModelFactory[Workstream]):
    class Meta:
        model = Workstream

    key = factory.Sequence(lambda n: f"TEST-WP-{n:04d}")
    repo = factory.SubFactory(RepoFactory)
    title = factory.Sequence(lambda n: f"Workstream {n}")
    status = Workstream.Status.ACTIVE
    priority = 10


class TaskFactory(factory.django.DjangoModelFactory[Task]):
    class Meta:
        model = Task

    workstream = factory.SubFactory(WorkstreamFactory)
    key = factory.Sequence(lambda n: f"TASK-{n:05d}")
    title = factory.Sequence(lambda n: f"Task {n}")
    status = Task.Status.TODO
    priority = Task.Priority.MEDIUM
    order = factory.Sequence(lambda n: n)


class DecisionFactory(factory.django.DjangoModelFactory[Decision]):
    class Meta:
        model = Decision

    key = factory.Sequence(lambda n: f"DEC-{n:04d}")
    title = factory.Sequence(lambda n: f"Decision {n}")
    question = "Which way?"
    options = factory.LazyFunction(lambda: ["left", "right"])
    status = Decision.Status.OPEN


class ProgressEventFactory(factory.django.DjangoModelFactory[ProgressEvent]):
    class Meta:
        model = ProgressEvent

    summary = factory.Sequence(lambda n: f"Progress {n}")
    event_type = ProgressEvent.EventType.NOTE
    created_at = factory.LazyFunction(timezone.now)
