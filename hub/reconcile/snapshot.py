"""The database side of a reconciliation: what the hub holds for one repo, read once before comparing.

Read in two steps: the repo's workstreams first (they decide which files the content hash lets
through unparsed), then the tasks, goals and foreign workstreams the parsed files name.
Comparing then works on this snapshot alone, without queries.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from hub.models import DomainGoal, Repo, Task, Workstream
from hub.reconcile.reading import Reading


@dataclass
class Snapshot:
    """One repo's rows as a reconciliation compares them with its files."""

    repo_id: Any
    repo_slug: str
    workstreams: dict[str, Workstream]  # this repo's, by key
    by_path: dict[str, Workstream]  # this repo's, by `source_path`
    changed_ids: set[Any]  # workstreams edited in the database (they or their tasks) since the last sync
    tasks: dict[str, Task] = field(default_factory=dict)  # tasks the parsed files name, or of their workstreams
    unchanged_tasks: dict[str, tuple[Any, str]] = field(default_factory=dict)  # key -> (workstream id, its file)
    goals: dict[str, DomainGoal] = field(default_factory=dict)
    foreign_workstreams: dict[str, str] = field(default_factory=dict)  # key -> slug of the repo that owns it

    def is_unchanged(self, path: str, digest: str) -> bool:
        """Whether the file at `path` may skip parsing: same hash as last fully applied, and no edit since."""
        previous = self.by_path.get(path)
        return (
            previous is not None
            and bool(previous.source_hash)
            and previous.source_hash == digest
            and previous.missing_from_repo_at is None
            and previous.pk not in self.changed_ids
        )


def load_snapshot(repo: Repo) -> Snapshot:
    """The repo's workstreams, by key and by file, and those edited in the database since the last sync."""
    workstreams = {ws.key: ws for ws in Workstream.objects.filter(repo=repo).select_related("domain_goal")}
    # Flagged orphans first, so a live workstream wins when an old one still names the same path.
    by_path = {
        ws.source_path: ws
        for ws in sorted(workstreams.values(), key=lambda w: w.missing_from_repo_at is None)
        if ws.source_path
    }
    return Snapshot(
        repo_id=repo.pk,
        repo_slug=repo.slug,
        workstreams=workstreams,
        by_path=by_path,
        changed_ids=_changed_since(repo, repo.last_synced_at),
    )


def _changed_since(repo: Repo, since: dt.datetime | None) -> set[Any]:
    """Workstreams of this repo with a database edit (to them or their tasks) since `since` (all when None)."""
    if since is None:
        return set(Workstream.objects.filter(repo=repo).values_list("pk", flat=True))
    changed = set(Workstream.objects.filter(repo=repo, updated_at__gt=since).values_list("pk", flat=True))
    changed.update(
        Task.objects.filter(workstream__repo=repo, updated_at__gt=since)
        .values_list("workstream_id", flat=True)
        .distinct()
    )
    return changed


def load_related(snapshot: Snapshot, reading: Reading) -> None:
    """Add the rows the parsed files name: their tasks, goals, other repos' workstreams, unchanged files' tasks."""
    specs = reading.specs
    if not specs:
        return
    unchanged_ids = [
        snapshot.by_path[file.path].pk for file in reading.files if file.unchanged and file.path in snapshot.by_path
    ]
    # Tasks of unchanged files, to catch a re-read file claiming one of them.
    snapshot.unchanged_tasks = {
        key: (workstream_id, source_path)
        for key, workstream_id, source_path in Task.objects.filter(
            workstream_id__in=unchanged_ids, missing_from_workplan_at__isnull=True
        ).values_list("key", "workstream_id", "workstream__source_path")
    }
    keys = [task.key for spec in specs for task in spec.tasks]
    workstream_ids = [snapshot.workstreams[spec.key].pk for spec in specs if spec.key in snapshot.workstreams]
    snapshot.tasks = {
        task.key: task
        for task in Task.objects.filter(Q(key__in=keys) | Q(workstream_id__in=workstream_ids)).select_related(
            "workstream__repo"
        )
    }
    snapshot.goals = {
        goal.key: goal for goal in DomainGoal.objects.filter(key__in={s.domain_goal for s in specs if s.domain_goal})
    }
    snapshot.foreign_workstreams = dict(
        Workstream.objects.filter(key__in=[s.key for s in specs if s.key not in snapshot.workstreams])
        .exclude(repo_id=snapshot.repo_id)
        .values_list("key", "repo__slug")
    )
