"""The database side of a reconciliation: what the hub holds for one repo, read once before comparing.

Read in two steps: the repo's workstreams first (they decide which files the content hash, or
the stamp stored with it, lets through unparsed), then the tasks, goals and foreign workstreams
the parsed files name. Comparing then works on this snapshot alone, without queries.

A sweep reads the first step for a whole batch of repos at once (`load_snapshots`: three queries
whatever the batch's size), so a repo whose files are all unchanged costs no query of its own.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

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
    loaded_at: dt.datetime  # taken before the rows were read: what the run saw holds at least until then
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

    def stamped(self, path: str, stamp: str) -> str | None:
        """The hash of the file at `path` when its stamp is the one stored with that hash, and it may skip parsing."""
        previous = self.by_path.get(path)
        if (
            previous is None
            or not previous.source_stamp
            or previous.source_stamp != stored_stamp(stamp, previous.source_hash)
        ):
            return None
        return previous.source_hash if self.is_unchanged(path, previous.source_hash) else None


def stored_stamp(stamp: str, digest: str) -> str:
    """A stamp as `Workstream.source_stamp` holds it: with the hash it was taken for, void once that changes."""
    return f"{stamp}:{digest}"


def load_snapshot(repo: Repo) -> Snapshot:
    """The repo's workstreams, by key and by file, and those edited in the database since the last sync."""
    return load_snapshots([repo])[repo.pk]


def load_snapshots(repos: Iterable[Repo]) -> dict[Any, Snapshot]:
    """`load_snapshot` of each repo, by its pk, in three queries whatever the number of repos."""
    loaded_at = timezone.now()
    by_repo = {repo.pk: repo for repo in repos}
    workstreams: dict[Any, dict[str, Workstream]] = {pk: {} for pk in by_repo}
    for ws in Workstream.objects.filter(repo_id__in=by_repo).select_related("domain_goal"):
        workstreams[ws.repo_id][ws.key] = ws
    changed = _changed_since_last_sync(list(by_repo))
    snapshots = {}
    for pk, repo in by_repo.items():
        mine = workstreams[pk]
        # Flagged orphans first, so a live workstream wins when an old one still names the same path.
        by_path = {
            ws.source_path: ws
            for ws in sorted(mine.values(), key=lambda w: w.missing_from_repo_at is None)
            if ws.source_path
        }
        snapshots[pk] = Snapshot(
            repo_id=pk,
            repo_slug=repo.slug,
            workstreams=mine,
            by_path=by_path,
            changed_ids=changed.get(pk, set()),
            loaded_at=loaded_at,
        )
    return snapshots


def _changed_since_last_sync(repo_ids: list[Any]) -> dict[Any, set[Any]]:
    """Per repo, its workstreams with a database edit (to them or their tasks) since its `last_synced_at`.

    Every workstream of a repo never synced counts as edited.
    """
    changed: dict[Any, set[Any]] = {}
    edited = Workstream.objects.filter(repo_id__in=repo_ids).filter(
        Q(repo__last_synced_at__isnull=True) | Q(updated_at__gt=F("repo__last_synced_at"))
    )
    for pk, repo_id in edited.values_list("pk", "repo_id"):
        changed.setdefault(repo_id, set()).add(pk)
    tasks = (
        Task.objects.filter(workstream__repo_id__in=repo_ids, updated_at__gt=F("workstream__repo__last_synced_at"))
        .values_list("workstream_id", "workstream__repo_id")
        .distinct()
    )
    for pk, repo_id in tasks:
        changed.setdefault(repo_id, set()).add(pk)
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
