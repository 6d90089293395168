"""Reconciling workplan files with the database (ADR-001): the file wins, the database is its index.

`reconcile_repo` compares one repo's workplan files with its workstreams and tasks and, with
`fix=True`, applies the differences through the hub's services (so transitions follow the table and
record their events). `sweep` does the same for many repos within a time budget. Writes never go
into the repositories. A PostgreSQL advisory lock keeps two fixing runs from interleaving.
"""

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from hub.errors import Conflict, HubError
from hub.models import DomainGoal, Repo, Task, Workstream
from hub.services import repo_update, task_update, workstream_create, workstream_update
from hub.services.maintenance import tasks_create_bulk, workplans_import
from hub.transitions import can_transition
from hub.workplans import WorkplanError, WorkplanSpec, content_hash, parse_workplan, workplan_files

# Key of the session-level advisory lock every fixing run holds ("SHRC" in ASCII).
LOCK_KEY = 0x53485243
CLOSED_WORKSTREAM = (Workstream.Status.COMPLETED, Workstream.Status.ARCHIVED)
WORKSTREAM_COMPARED = ("title", "status", "owner", "priority", "source_path")
TASK_COMPARED = ("title", "status", "priority", "assignee", "order")
WORKPLANS_PER_TRANSACTION = 50

logger = logging.getLogger(__name__)


class ReconciliationBusy(Conflict):
    """Another fixing reconciliation (command, sync or sweep) holds the advisory lock."""

    code = "reconciliation_running"


class CheckoutUnreadable(Conflict):
    """The repo has no readable checkout (`local_path`) with a workplan directory."""

    code = "checkout_unreadable"


@dataclass
class Finding:
    """One line of a report: what differs, is wrong or was changed, and where."""

    kind: str
    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    field: str | None = None
    file_value: Any = None
    db_value: Any = None
    fixed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {name: _jsonable(value) for name, value in asdict(self).items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


@dataclass
class RepoReport:
    """What a reconciliation of one repo found and, with `fix`, what it changed."""

    repo: str
    fix: bool
    files: int = 0
    files_unchanged: int = 0
    drift: list[Finding] = field(default_factory=list)
    conflicts: list[Finding] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    applied: list[Finding] = field(default_factory=list)
    synced_at: dt.datetime | None = None
    elapsed_s: float = 0.0

    @property
    def unresolved_drift(self) -> list[Finding]:
        return [item for item in self.drift if not item.fixed]

    @property
    def exit_code(self) -> int:
        """0 clean, 1 drift/conflicts/unreadable files left, 2 warnings only (DESIGN §8)."""
        if self.unresolved_drift or self.conflicts or self.errors:
            return 1
        return 2 if self.warnings else 0

    @property
    def status(self) -> str:
        return {0: "clean", 1: "drift", 2: "warnings"}[self.exit_code]

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "fix": self.fix,
            "status": self.status,
            "exit_code": self.exit_code,
            "files": self.files,
            "files_unchanged": self.files_unchanged,
            "counts": {
                "drift": len(self.drift),
                "drift_unresolved": len(self.unresolved_drift),
                "conflicts": len(self.conflicts),
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "applied": len(self.applied),
            },
            "drift": [item.as_dict() for item in self.drift],
            "conflicts": [item.as_dict() for item in self.conflicts],
            "errors": [item.as_dict() for item in self.errors],
            "warnings": [item.as_dict() for item in self.warnings],
            "applied": [item.as_dict() for item in self.applied],
            "synced_at": _jsonable(self.synced_at),
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass
class SweepReport:
    """A reconciliation of several repos within a time budget, naming the repos it did not reach."""

    fix: bool
    max_seconds: float | None
    repos: list[RepoReport] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def exit_code(self) -> int:
        codes = {report.exit_code for report in self.repos}
        if 1 in codes:
            return 1
        return 2 if 2 in codes else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "fix": self.fix,
            "max_seconds": self.max_seconds,
            "status": {0: "clean", 1: "drift", 2: "warnings"}[self.exit_code],
            "exit_code": self.exit_code,
            "repos": [report.as_dict() for report in self.repos],
            "skipped": self.skipped,
            "not_reached": self.not_reached,
            "elapsed_s": round(self.elapsed_s, 3),
        }


@contextlib.contextmanager
def reconciliation_lock() -> Iterator[None]:
    """Hold the reconciliation advisory lock, or raise ReconciliationBusy at once if another run has it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        acquired = cursor.fetchone()[0]
    if not acquired:
        raise ReconciliationBusy("Another consistency check, sync or sweep is running; try again when it ends.")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def checkout_problem(repo: Repo) -> str | None:
    """Why the repo's workplan directory cannot be read, or None when it can."""
    if not repo.local_path:
        return f"Repo {repo.slug} has no local_path (no checkout the hub may read)."
    root = Path(repo.local_path)
    if not root.is_dir():
        return f"Repo {repo.slug}: local_path {repo.local_path} is not a readable directory."
    if not (root / repo.workplan_dir).is_dir():
        return f"Repo {repo.slug}: {repo.workplan_dir}/ does not exist under {repo.local_path}."
    return None


def reconcile_repo(*, repo: Repo, fix: bool) -> RepoReport:
    """Compare one repo's workplan files with the database; with `fix`, apply the differences."""
    if not fix:
        return _RepoReconciliation(repo, fix=False).run()
    with reconciliation_lock():
        return _RepoReconciliation(repo, fix=True).run()


def repo_sync(*, repo: Repo) -> RepoReport:
    """Reconcile a repo now with `fix` (POST /repos/{slug}/sync); refuse a repo without a readable checkout."""
    problem = checkout_problem(repo)
    if problem:
        raise CheckoutUnreadable(problem)
    return reconcile_repo(repo=repo, fix=True)


def sweep(*, repos: Iterable[Repo] | None = None, fix: bool, max_seconds: float | None) -> SweepReport:
    """Reconcile every given repo (default: all active ones), least recently synced first, within a time budget.

    The budget is checked before each repo; a repo once started is finished, so each repo's
    report is complete. Repos without a `local_path` are listed as skipped.
    """
    started = time.monotonic()
    report = SweepReport(fix=fix, max_seconds=max_seconds)
    if repos is None:
        repos = Repo.objects.filter(status=Repo.Status.ACTIVE)
    ordered = sorted(repos, key=lambda r: (r.last_synced_at is not None, r.last_synced_at or timezone.now(), r.slug))
    lock = reconciliation_lock() if fix else contextlib.nullcontext()
    with lock:
        for repo in ordered:
            if max_seconds is not None and time.monotonic() - started >= max_seconds:
                report.not_reached.append(repo.slug)
                continue
            if not repo.local_path:
                report.skipped.append({"repo": repo.slug, "reason": "no local_path"})
                continue
            report.repos.append(_reconcile_or_report_failure(repo, fix=fix))
    report.elapsed_s = time.monotonic() - started
    return report


def _reconcile_or_report_failure(repo: Repo, *, fix: bool) -> RepoReport:
    """One repo's reconciliation; an unexpected failure becomes an error in its report, not the sweep's end."""
    try:
        return _RepoReconciliation(repo, fix=fix).run()
    except Exception as exc:
        logger.exception("Reconciliation of repo %s failed", repo.slug)
        failed = RepoReport(repo=repo.slug, fix=fix)
        failed.errors.append(Finding(kind="repo_failed", message=f"reconciliation failed: {exc}"))
        return failed


@dataclass
class _Plan:
    """The writes one workplan needs: a workstream to create or change, and its tasks."""

    spec: WorkplanSpec
    workstream: Workstream | None
    created: dict[str, Any] | None
    workstream_changes: dict[str, Any]
    task_plan: list[tuple[Task | None, dict[str, Any]]]
    drift: list[Finding]

    @property
    def is_fresh(self) -> bool:
        """A workplan the hub has never seen, none of whose tasks exist yet."""
        return self.workstream is None and all(task is None for task, _ in self.task_plan)


class _RepoReconciliation:
    """One pass over one repo: read files, compare with the database, and apply when fixing."""

    def __init__(self, repo: Repo, *, fix: bool) -> None:
        self.repo = repo
        self.fix = fix
        self.report = RepoReport(repo=repo.slug, fix=fix)
        self.now = timezone.now()
        # Rows this run wrote, with the updated_at it left, to tell own writes from concurrent edits.
        self.written: dict[tuple[str, Any], dt.datetime] = {}

    def run(self) -> RepoReport:
        started = time.monotonic()
        problem = checkout_problem(self.repo)
        if problem:
            self.report.errors.append(Finding(kind="unreadable_checkout", message=problem))
        else:
            self._reconcile()
        self.report.elapsed_s = time.monotonic() - started
        return self.report

    # --- reading ---

    def _reconcile(self) -> None:
        repo = self.repo
        root = Path(repo.local_path)
        workstreams = {ws.key: ws for ws in Workstream.objects.filter(repo=repo).select_related("domain_goal")}
        # Flagged orphans first, so a live workstream wins when an old one still names the same path.
        by_path = {
            ws.source_path: ws
            for ws in sorted(workstreams.values(), key=lambda w: w.missing_from_repo_at is None)
            if ws.source_path
        }
        changed_ids = self._changed_since_last_sync()

        claimed_workstreams: dict[str, str] = {}  # workstream key -> file claiming it
        present_ids: set[Any] = set()  # workstreams whose file exists (even when it is broken)
        unchanged_ids: list[Any] = []
        specs: list[WorkplanSpec] = []
        for path in workplan_files(root / repo.workplan_dir):
            relative = path.relative_to(root).as_posix()
            self.report.files += 1
            previous = by_path.get(relative)
            try:
                data = path.read_bytes()
            except OSError as exc:
                self._error(relative, None, f"cannot read file: {exc.strerror or exc}")
                self._keep(previous, present_ids)
                continue
            if (
                previous is not None
                and previous.source_hash == content_hash(data)
                and previous.missing_from_repo_at is None
                and previous.pk not in changed_ids
            ):
                if previous.key in claimed_workstreams:
                    self._error(
                        relative,
                        1,
                        f"duplicate workplan id {previous.key} (also in {claimed_workstreams[previous.key]})",
                    )
                    continue
                claimed_workstreams[previous.key] = relative
                present_ids.add(previous.pk)
                unchanged_ids.append(previous.pk)
                self.report.files_unchanged += 1
                continue
            try:
                spec = parse_workplan(data, path=relative)
            except WorkplanError as exc:
                self._error(exc.file, exc.line, exc.message)
                self._keep(previous, present_ids)
                continue
            if spec.key in claimed_workstreams:
                self._error(relative, 2, f"duplicate workplan id {spec.key} (also in {claimed_workstreams[spec.key]})")
                continue
            claimed_workstreams[spec.key] = relative
            if spec.key in workstreams:
                present_ids.add(workstreams[spec.key].pk)
            specs.append(spec)

        # Tasks of unchanged files, to catch a re-read file claiming one of them (only needed if any was re-read).
        claimed_tasks: dict[str, str] = {}
        if specs:
            claimed_tasks = dict(
                Task.objects.filter(workstream_id__in=unchanged_ids, missing_from_workplan_at__isnull=True).values_list(
                    "key", "workstream__source_path"
                )
            )
        valid_specs = []
        for spec in specs:
            clash = next((task for task in spec.tasks if task.key in claimed_tasks), None)
            if clash is not None:
                self._error(spec.path, clash.line, f"task id {clash.key} is also listed in {claimed_tasks[clash.key]}")
                continue
            claimed_tasks.update((task.key, spec.path) for task in spec.tasks)
            valid_specs.append(spec)

        tasks_by_key = self._load_tasks(valid_specs, workstreams)
        goals = {
            goal.key: goal
            for goal in DomainGoal.objects.filter(key__in={s.domain_goal for s in valid_specs if s.domain_goal})
        }
        foreign_workstreams = dict(
            Workstream.objects.filter(key__in=[s.key for s in valid_specs if s.key not in workstreams])
            .exclude(repo=repo)
            .values_list("key", "repo__slug")
        )
        # Workplans are applied in chunks, one transaction each, every workplan in its own savepoint:
        # a workplan is never half-written, and a first import does not pay one commit per file.
        for start in range(0, len(valid_specs), WORKPLANS_PER_TRANSACTION):
            with transaction.atomic() if self.fix else contextlib.nullcontext():
                chunk = valid_specs[start : start + WORKPLANS_PER_TRANSACTION]
                plans = [
                    self._workplan(spec, workstreams.get(spec.key), tasks_by_key, goals, foreign_workstreams)
                    for spec in chunk
                ]
                if self.fix:
                    self._apply_chunk([plan for plan in plans if plan is not None])
        with transaction.atomic() if self.fix else contextlib.nullcontext():
            self._vanished_tasks(workstreams, tasks_by_key, claimed_tasks)
            self._orphans(workstreams, claimed_workstreams, present_ids)
        if self.fix:
            self._mark_synced()

    def _changed_since_last_sync(self) -> set[Any]:
        """Workstreams of this repo with a database edit (to them or their tasks) since the last sync."""
        since = self.repo.last_synced_at
        if since is None:
            return set(Workstream.objects.filter(repo=self.repo).values_list("pk", flat=True))
        changed = set(Workstream.objects.filter(repo=self.repo, updated_at__gt=since).values_list("pk", flat=True))
        changed.update(
            Task.objects.filter(workstream__repo=self.repo, updated_at__gt=since)
            .values_list("workstream_id", flat=True)
            .distinct()
        )
        return changed

    def _load_tasks(self, specs: list[WorkplanSpec], workstreams: dict[str, Workstream]) -> dict[str, Task]:
        keys = [task.key for spec in specs for task in spec.tasks]
        workstream_ids = [workstreams[spec.key].pk for spec in specs if spec.key in workstreams]
        query = Task.objects.filter(Q(key__in=keys) | Q(workstream_id__in=workstream_ids)).select_related(
            "workstream__repo"
        )
        return {task.key: task for task in query}

    # --- comparing and applying ---

    def _workplan(
        self,
        spec: WorkplanSpec,
        workstream: Workstream | None,
        tasks_by_key: dict[str, Task],
        goals: dict[str, DomainGoal],
        foreign_workstreams: dict[str, str],
    ) -> "_Plan | None":
        """Compare one workplan with the database, report the differences, and return what to apply."""
        if spec.key in foreign_workstreams:
            self._conflict(
                spec.path, spec.line, spec.key, f"workstream {spec.key} belongs to repo {foreign_workstreams[spec.key]}"
            )
            return None
        drift: list[Finding] = []
        conflicts = 0
        warned = False
        if spec.repo_slug and spec.repo_slug != self.repo.slug:
            self._warn(spec.path, 2, spec.key, f"file declares repo {spec.repo_slug!r} but lives in {self.repo.slug!r}")
            warned = True
        goal = None
        if spec.domain_goal:
            goal = goals.get(spec.domain_goal)
            if goal is None:
                self._warn(spec.path, 2, spec.key, f"unknown domain_goal {spec.domain_goal!r}; not linked")
                warned = True

        wanted: dict[str, Any] = {
            "title": spec.title,
            "status": spec.status,
            "owner": spec.owner,
            "priority": spec.priority,
            "source_path": spec.path,
        }
        workstream_changes: dict[str, Any] = {}
        if workstream is None:
            drift.append(
                Finding(
                    kind="workplan_without_workstream",
                    message=f"workplan {spec.key} has no workstream",
                    file=spec.path,
                    line=spec.line,
                    key=spec.key,
                )
            )
        else:
            for name in WORKSTREAM_COMPARED:
                current = getattr(workstream, name)
                if current == wanted[name]:
                    continue
                if name == "status" and not can_transition("workstream", current, wanted[name]):
                    conflicts += 1
                    self._conflict(
                        spec.path,
                        spec.line,
                        spec.key,
                        f"workstream {spec.key}: status {current!r} → {wanted[name]!r} is not an allowed transition",
                        field="status",
                        file_value=wanted[name],
                        db_value=current,
                    )
                    continue
                workstream_changes[name] = wanted[name]
                drift.append(
                    Finding(
                        kind="workstream_field",
                        message=f"workstream {spec.key}: {name} differs",
                        file=spec.path,
                        line=spec.line,
                        key=spec.key,
                        field=name,
                        file_value=wanted[name],
                        db_value=current,
                    )
                )
            if goal is not None and workstream.domain_goal_id != goal.pk:
                workstream_changes["domain_goal"] = goal
                drift.append(
                    Finding(
                        kind="workstream_field",
                        message=f"workstream {spec.key}: domain_goal differs",
                        file=spec.path,
                        line=spec.line,
                        key=spec.key,
                        field="domain_goal",
                        file_value=spec.domain_goal,
                        db_value=workstream.domain_goal.key if workstream.domain_goal else None,
                    )
                )
            if workstream.missing_from_repo_at is not None:
                workstream_changes["missing_from_repo_at"] = None
                drift.append(
                    Finding(
                        kind="workstream_returned",
                        message=f"workstream {spec.key} was flagged as orphan; its file is back",
                        file=spec.path,
                        line=spec.line,
                        key=spec.key,
                        field="missing_from_repo_at",
                        db_value=workstream.missing_from_repo_at,
                    )
                )

        task_plan: list[tuple[Task | None, dict[str, Any]]] = []  # (existing task or None, values)
        for task_spec in spec.tasks:
            values: dict[str, Any] = {
                "title": task_spec.title,
                "status": task_spec.status,
                "priority": task_spec.priority,
                "assignee": task_spec.assignee,
                "order": task_spec.order,
            }
            task = tasks_by_key.get(task_spec.key)
            if task is None:
                drift.append(
                    Finding(
                        kind="task_missing_in_db",
                        message=f"task {task_spec.key} is in the file but not in the hub",
                        file=spec.path,
                        line=task_spec.line,
                        key=task_spec.key,
                    )
                )
                task_plan.append((None, {"key": task_spec.key, **values}))
                continue
            if task.workstream.repo_id != self.repo.pk:
                conflicts += 1
                self._conflict(
                    spec.path,
                    task_spec.line,
                    task_spec.key,
                    f"task id {task_spec.key} belongs to repo {task.workstream.repo.slug}",
                )
                continue
            changes: dict[str, Any] = {}
            for name in TASK_COMPARED:
                current = getattr(task, name)
                target = values[name]
                if current == target:
                    continue
                if name == "status":
                    if (
                        current == Task.Status.CANCEL
                        and target in Task.OPEN_STATUSES
                        and spec.status in CLOSED_WORKSTREAM
                    ):
                        # The stale rule canceled it (cleanup_stale_tasks); the file is not expected to follow.
                        continue
                    if not can_transition("task", current, target):
                        conflicts += 1
                        self._conflict(
                            spec.path,
                            task_spec.line,
                            task_spec.key,
                            f"task {task_spec.key}: status {current!r} → {target!r} is not an allowed transition",
                            field="status",
                            file_value=target,
                            db_value=current,
                        )
                        continue
                changes[name] = target
                drift.append(
                    Finding(
                        kind="task_field",
                        message=f"task {task_spec.key}: {name} differs",
                        file=spec.path,
                        line=task_spec.line,
                        key=task_spec.key,
                        field=name,
                        file_value=target,
                        db_value=current,
                    )
                )
            if workstream is None or task.workstream_id != workstream.pk:
                changes["workstream"] = None  # filled in once the workstream exists
                drift.append(
                    Finding(
                        kind="task_field",
                        message=f"task {task_spec.key} moved to workstream {spec.key}",
                        file=spec.path,
                        line=task_spec.line,
                        key=task_spec.key,
                        field="workstream",
                        file_value=spec.key,
                        db_value=task.workstream.key,
                    )
                )
            if task.missing_from_workplan_at is not None:
                changes["missing_from_workplan_at"] = None
                drift.append(
                    Finding(
                        kind="task_returned",
                        message=f"task {task_spec.key} was flagged missing; the file lists it again",
                        file=spec.path,
                        line=task_spec.line,
                        key=task_spec.key,
                        field="missing_from_workplan_at",
                        db_value=task.missing_from_workplan_at,
                    )
                )
            if changes:
                task_plan.append((task, changes))

        self.report.drift.extend(drift)
        if not self.fix:
            return None
        consistent = not conflicts and not warned
        if not drift and not (consistent and workstream is not None and workstream.source_hash != spec.content_hash):
            return None
        created: dict[str, Any] | None = None
        if workstream is None:
            created = {"key": spec.key, "repo": self.repo, **wanted, "domain_goal": goal}
            if consistent:
                created["source_hash"] = spec.content_hash
        elif consistent and workstream.source_hash != spec.content_hash:
            workstream_changes["source_hash"] = spec.content_hash
        return _Plan(spec, workstream, created, workstream_changes, task_plan, drift)

    def _apply_chunk(self, plans: list["_Plan"]) -> None:
        """Apply a chunk of workplans: brand-new ones in one bulk import, the others one by one."""
        fresh = [plan for plan in plans if plan.is_fresh]
        if len(fresh) > 1 and self._import_fresh(fresh):
            plans = [plan for plan in plans if not plan.is_fresh]
        for plan in plans:
            self._apply_plan(plan)

    def _import_fresh(self, plans: list["_Plan"]) -> bool:
        """Create new workstreams with all their tasks in bulk; on any error fall back to one by one."""
        try:
            with transaction.atomic():
                imported = workplans_import(
                    items=[(plan.created or {}, [values for _, values in plan.task_plan]) for plan in plans]
                )
        except HubError:
            return False
        for plan, (workstream, tasks) in zip(plans, imported, strict=True):
            self._wrote("workstream", workstream)
            for task in tasks:
                self._wrote("task", task)
            self._applied(plan.drift)
        return True

    def _apply_plan(self, plan: "_Plan") -> None:
        """Apply one workplan in its own savepoint: it is written whole or not at all."""
        workstream = plan.workstream
        try:
            with transaction.atomic():
                if workstream is None:
                    workstream = self._wrote("workstream", workstream_create(data=plan.created or {}))
                new_tasks = [values for task, values in plan.task_plan if task is None]
                if new_tasks:
                    for created_task in tasks_create_bulk(workstream=workstream, items=new_tasks):
                        self._wrote("task", created_task)
                for existing, values in plan.task_plan:
                    if existing is not None:
                        if "workstream" in values:
                            values["workstream"] = workstream
                        self._wrote("task", task_update(task=existing, data=values))
                # The workstream last: its tasks are in place when a transition records its event.
                if plan.workstream_changes:
                    self._wrote("workstream", workstream_update(workstream=workstream, data=plan.workstream_changes))
        except HubError as exc:
            spec = plan.spec
            self._conflict(spec.path, spec.line, spec.key, f"workplan {spec.key} could not be applied: {exc.message}")
            return
        self._applied(plan.drift)

    def _applied(self, drift: list[Finding]) -> None:
        for item in drift:
            item.fixed = True
        self.report.applied.extend(drift)

    def _vanished_tasks(
        self, workstreams: dict[str, Workstream], tasks_by_key: dict[str, Task], claimed_tasks: dict[str, str]
    ) -> None:
        """DB tasks of re-read workplans that no file lists any more: flag them, never delete."""
        for task in tasks_by_key.values():
            if (
                task.key in claimed_tasks
                or task.missing_from_workplan_at is not None
                or task.workstream.repo_id != self.repo.pk
            ):
                continue
            item = Finding(
                kind="task_missing_from_workplan",
                message=f"task {task.key} is no longer listed in {task.workstream.source_path or task.workstream.key}",
                file=task.workstream.source_path or None,
                key=task.key,
                field="missing_from_workplan_at",
            )
            self.report.drift.append(item)
            if self.fix:
                self._apply(
                    item,
                    lambda task=task: self._wrote(
                        "task", task_update(task=task, data={"missing_from_workplan_at": self.now})
                    ),
                )

    def _orphans(self, workstreams: dict[str, Workstream], claimed: dict[str, str], present_ids: set[Any]) -> None:
        """Workstreams whose file is gone: flag them (`missing_from_repo_at`), never delete."""
        for workstream in workstreams.values():
            if workstream.key in claimed or workstream.pk in present_ids or workstream.missing_from_repo_at:
                continue
            item = Finding(
                kind="workstream_missing_from_repo",
                message=f"workstream {workstream.key}: its workplan file is gone",
                file=workstream.source_path or None,
                key=workstream.key,
                field="missing_from_repo_at",
            )
            self.report.drift.append(item)
            if self.fix:
                self._apply(
                    item,
                    lambda ws=workstream: self._wrote(
                        "workstream", workstream_update(workstream=ws, data={"missing_from_repo_at": self.now})
                    ),
                )

    def _mark_synced(self) -> None:
        """Record `last_synced_at`, unless someone else edited this repo's rows while the run was going."""
        end = timezone.now()
        concurrent = False
        recent = [
            ("workstream", Workstream.objects.filter(repo=self.repo, updated_at__gt=self.now)),
            ("task", Task.objects.filter(workstream__repo=self.repo, updated_at__gt=self.now)),
        ]
        for label, rows in recent:
            for pk, updated_at in rows.values_list("pk", "updated_at").iterator():
                if self.written.get((label, pk)) != updated_at:
                    concurrent = True
        # With a concurrent edit, the next run must re-check everything edited since this run began.
        synced_at = self.now if concurrent else end
        repo_update(repo=self.repo, data={"last_synced_at": synced_at})
        self.repo.last_synced_at = synced_at
        self.report.synced_at = synced_at

    # --- helpers ---

    @staticmethod
    def _keep(previous: Workstream | None, present_ids: set[Any]) -> None:
        """A file that exists but cannot be read still protects its workstream from being called an orphan."""
        if previous is not None:
            present_ids.add(previous.pk)

    def _wrote(self, label: str, instance: Any) -> Any:
        self.written[(label, instance.pk)] = instance.updated_at
        return instance

    def _apply(self, item: Finding, action: Any) -> None:
        try:
            action()
        except HubError as exc:
            self._conflict(item.file, item.line, item.key, f"could not apply {item.kind}: {exc.message}")
            return
        item.fixed = True
        self.report.applied.append(item)

    def _error(self, file: str | None, line: int | None, message: str) -> None:
        self.report.errors.append(Finding(kind="unreadable_file", message=message, file=file, line=line))

    def _warn(self, file: str | None, line: int | None, key: str | None, message: str) -> None:
        self.report.warnings.append(Finding(kind="warning", message=message, file=file, line=line, key=key))

    def _conflict(self, file: str | None, line: int | None, key: str | None, message: str, **extra: Any) -> None:
        self.report.conflicts.append(Finding(kind="conflict", message=message, file=file, line=line, key=key, **extra))


__all__ = [
    "CheckoutUnreadable",
    "Finding",
    "ReconciliationBusy",
    "RepoReport",
    "SweepReport",
    "checkout_problem",
    "reconcile_repo",
    "reconciliation_lock",
    "repo_sync",
    "sweep",
]
