"""Comparing workplan files with the database: a pure function from what was read to findings and a plan.

`compare(reading, snapshot)` makes no query and no write. It says what differs (drift), what the
transition table forbids (conflicts), which files are unusable (errors) or odd (warnings), and
which writes would bring the database to the files (`WorkplanPlan`s, flags for vanished tasks and
orphan workstreams). Applying the plan is `hub.reconcile.applying`'s job.
"""

from dataclasses import dataclass, field
from typing import Any

from hub.errors import InvalidTransition
from hub.models import DomainGoal, Task, Workstream
from hub.reconcile.reading import Reading
from hub.reconcile.reporting import CONFLICT, Finding, differs
from hub.reconcile.snapshot import Snapshot
from hub.stale import stale_reason
from hub.transitions import status_change
from hub.workplans import WorkplanSpec

WORKSTREAM_COMPARED = ("title", "status", "owner", "priority", "source_path")
TASK_COMPARED = ("title", "status", "priority", "assignee", "order")


@dataclass
class WorkplanPlan:
    """The writes one workplan needs: a workstream to create or change, and its tasks."""

    spec: WorkplanSpec
    workstream: Workstream | None
    created: dict[str, Any] | None  # the new workstream's values (but its repo), when there is none yet
    workstream_changes: dict[str, Any]
    task_plan: list[tuple[Task | None, dict[str, Any]]]  # (existing task or None to create, values)
    drift: list[Finding]  # what these writes fix

    @property
    def is_fresh(self) -> bool:
        """A workplan the hub has never seen, none of whose tasks exist yet."""
        return self.workstream is None and all(task is None for task, _ in self.task_plan)


@dataclass
class Comparison:
    """Everything one repo's files and rows disagree on, and the plan that would make them agree."""

    files: int = 0
    files_unchanged: int = 0
    drift: list[Finding] = field(default_factory=list)
    conflicts: list[Finding] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    workplans: list[WorkplanPlan] = field(default_factory=list)
    vanished_tasks: list[tuple[Task, Finding]] = field(default_factory=list)  # to flag `missing_from_workplan_at`
    orphans: list[tuple[Workstream, Finding]] = field(default_factory=list)  # to flag `missing_from_repo_at`

    def error(self, file: str | None, line: int | None, message: str) -> None:
        self.errors.append(Finding(kind="unreadable_file", message=message, file=file, line=line))

    def warn(self, file: str | None, line: int | None, key: str | None, message: str) -> None:
        self.warnings.append(Finding(kind="warning", message=message, file=file, line=line, key=key))

    def conflict(self, file: str | None, line: int | None, key: str | None, message: str, **extra: Any) -> None:
        self.conflicts.append(
            Finding(kind="conflict", message=message, file=file, line=line, key=key, outcome=CONFLICT, **extra)
        )


def compare(reading: Reading, snapshot: Snapshot) -> Comparison:
    """Compare one repo's files (as read) with its rows (as snapshot); no query, no write.

    When the reading was cut short by the time budget, no task is called vanished and no
    workstream an orphan: their files may simply not have been reached.
    """
    result = Comparison(files=len(reading.files))
    claimed_workstreams: dict[str, str] = {}  # workstream key -> file claiming it
    present_ids: set[Any] = set()  # workstreams whose file exists (even when it is broken)
    unchanged_ids: set[Any] = set()
    specs: list[WorkplanSpec] = []
    for file in reading.files:
        previous = snapshot.by_path.get(file.path)
        if file.error is not None:
            result.error(file.path, file.line, file.error)
            if previous is not None:
                # A file that exists but cannot be read still protects its workstream from being called an orphan.
                present_ids.add(previous.pk)
            continue
        if file.unchanged and previous is not None:
            if previous.key in claimed_workstreams:
                result.error(
                    file.path, 1, f"duplicate workplan id {previous.key} (also in {claimed_workstreams[previous.key]})"
                )
                continue
            claimed_workstreams[previous.key] = file.path
            present_ids.add(previous.pk)
            unchanged_ids.add(previous.pk)
            result.files_unchanged += 1
            continue
        spec = file.spec
        assert spec is not None
        if spec.key in claimed_workstreams:
            result.error(
                file.path,
                spec.line_of("key"),
                f"duplicate workplan id {spec.key} (also in {claimed_workstreams[spec.key]})",
            )
            continue
        claimed_workstreams[spec.key] = file.path
        if spec.key in snapshot.workstreams:
            present_ids.add(snapshot.workstreams[spec.key].pk)
        specs.append(spec)

    # Tasks of unchanged files, to catch a re-read file claiming one of them.
    claimed_tasks: dict[str, str] = {
        key: path for key, (workstream_id, path) in snapshot.unchanged_tasks.items() if workstream_id in unchanged_ids
    }
    valid_specs = []
    for spec in specs:
        clash = next((task for task in spec.tasks if task.key in claimed_tasks), None)
        if clash is not None:
            result.error(spec.path, clash.line, f"task id {clash.key} is also listed in {claimed_tasks[clash.key]}")
            continue
        claimed_tasks.update((task.key, spec.path) for task in spec.tasks)
        valid_specs.append(spec)

    # The tasks these workplans name or hold today (those of a file skipped above play no part).
    valid_keys = {task.key for spec in valid_specs for task in spec.tasks}
    valid_workstream_ids = {snapshot.workstreams[s.key].pk for s in valid_specs if s.key in snapshot.workstreams}
    tasks_by_key = {
        key: task
        for key, task in snapshot.tasks.items()
        if key in valid_keys or task.workstream_id in valid_workstream_ids
    }
    for spec in valid_specs:
        plan = _compare_workplan(result, spec, snapshot.workstreams.get(spec.key), tasks_by_key, snapshot)
        if plan is not None:
            result.workplans.append(plan)
    if reading.complete:
        _vanished_tasks(result, tasks_by_key, claimed_tasks, snapshot)
        _orphans(result, claimed_workstreams, present_ids, snapshot)
    return result


def _compare_workplan(
    result: Comparison,
    spec: WorkplanSpec,
    workstream: Workstream | None,
    tasks_by_key: dict[str, Task],
    snapshot: Snapshot,
) -> WorkplanPlan | None:
    """Compare one workplan with its rows: record the findings, and return the writes it needs (None: none)."""
    if spec.key in snapshot.foreign_workstreams:
        result.conflict(
            spec.path,
            spec.line_of("key"),
            spec.key,
            f"workstream {spec.key} belongs to repo {snapshot.foreign_workstreams[spec.key]}",
        )
        return None
    drift: list[Finding] = []
    conflicts_before = len(result.conflicts)
    warnings_before = len(result.warnings)
    if spec.repo_slug and spec.repo_slug != snapshot.repo_slug:
        result.warn(
            spec.path,
            spec.line_of("repo_slug"),
            spec.key,
            f"file declares repo {spec.repo_slug!r} but lives in {snapshot.repo_slug!r}",
        )
    goal: DomainGoal | None = None
    if spec.domain_goal:
        goal = snapshot.goals.get(spec.domain_goal)
        if goal is None:
            result.warn(
                spec.path,
                spec.line_of("domain_goal"),
                spec.key,
                f"unknown domain_goal {spec.domain_goal!r}; not linked",
            )

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
                line=spec.line_of("key"),
                key=spec.key,
            )
        )
    else:
        workstream_changes = _workstream_changes(result, spec, workstream, wanted, goal, drift)

    task_plan = _task_plan(result, spec, workstream, tasks_by_key, snapshot, drift)
    result.drift.extend(drift)

    # The hash is stored only for a workplan applied whole, and cleared when it no longer is: a file
    # whose differences were not all applied is never skipped by its hash (DESIGN §8).
    consistent = len(result.conflicts) == conflicts_before and len(result.warnings) == warnings_before
    created: dict[str, Any] | None = None
    if workstream is None:
        created = {"key": spec.key, **wanted, "domain_goal": goal}
        if consistent:
            created["source_hash"] = spec.content_hash
    else:
        wanted_hash = spec.content_hash if consistent else ""
        if workstream.source_hash != wanted_hash:
            workstream_changes["source_hash"] = wanted_hash
        if not drift and not workstream_changes:
            return None
    return WorkplanPlan(spec, workstream, created, workstream_changes, task_plan, drift)


def _workstream_changes(
    result: Comparison,
    spec: WorkplanSpec,
    workstream: Workstream,
    wanted: dict[str, Any],
    goal: DomainGoal | None,
    drift: list[Finding],
) -> dict[str, Any]:
    """The workstream's fields to bring to the file's values; a forbidden status move is a conflict."""
    changes: dict[str, Any] = {}
    for name in WORKSTREAM_COMPARED:
        current = getattr(workstream, name)
        if current == wanted[name]:
            continue
        if name == "status" and not _may_change(workstream, wanted[name]):
            result.conflict(
                spec.path,
                spec.line_of(name),
                spec.key,
                differs(f"workstream {spec.key}", name, wanted[name], current) + " (not an allowed transition)",
                field="status",
                file_value=wanted[name],
                db_value=current,
            )
            continue
        changes[name] = wanted[name]
        drift.append(
            Finding(
                kind="workstream_field",
                message=differs(f"workstream {spec.key}", name, wanted[name], current),
                file=spec.path,
                line=spec.line_of(name),
                key=spec.key,
                field=name,
                file_value=wanted[name],
                db_value=current,
            )
        )
    if goal is not None and workstream.domain_goal_id != goal.pk:
        changes["domain_goal"] = goal
        current_goal = workstream.domain_goal.key if workstream.domain_goal else None
        drift.append(
            Finding(
                kind="workstream_field",
                message=differs(f"workstream {spec.key}", "domain_goal", spec.domain_goal, current_goal),
                file=spec.path,
                line=spec.line_of("domain_goal"),
                key=spec.key,
                field="domain_goal",
                file_value=spec.domain_goal,
                db_value=current_goal,
            )
        )
    if workstream.missing_from_repo_at is not None:
        changes["missing_from_repo_at"] = None
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
    return changes


def _task_plan(
    result: Comparison,
    spec: WorkplanSpec,
    workstream: Workstream | None,
    tasks_by_key: dict[str, Task],
    snapshot: Snapshot,
    drift: list[Finding],
) -> list[tuple[Task | None, dict[str, Any]]]:
    """Each task of the file: created when new, its differing fields changed; forbidden moves are conflicts."""
    task_plan: list[tuple[Task | None, dict[str, Any]]] = []
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
        if task.workstream.repo_id != snapshot.repo_id:
            result.conflict(
                spec.path,
                task_spec.line_of("key"),
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
                reopened_as_stale = stale_reason(
                    status=target, workstream_status=spec.status, missing_from_workplan=False
                )
                if current == Task.Status.CANCEL and reopened_as_stale is not None:
                    # The stale rule canceled it (cleanup_stale_tasks) and would again; the file need not follow.
                    continue
                if not _may_change(task, target):
                    result.conflict(
                        spec.path,
                        task_spec.line_of(name),
                        task_spec.key,
                        differs(f"task {task_spec.key}", name, target, current) + " (not an allowed transition)",
                        field="status",
                        file_value=target,
                        db_value=current,
                    )
                    continue
            changes[name] = target
            drift.append(
                Finding(
                    kind="task_field",
                    message=differs(f"task {task_spec.key}", name, target, current),
                    file=spec.path,
                    line=task_spec.line_of(name),
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
                    message=differs(f"task {task_spec.key}", "workstream", spec.key, task.workstream.key),
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
    return task_plan


def _may_change(instance: Task | Workstream, status: str) -> bool:
    """Whether the status gate lets `instance` take the file's `status` (a refused move is a conflict)."""
    try:
        status_change(instance, status)
    except InvalidTransition:
        return False
    return True


def _vanished_tasks(
    result: Comparison, tasks_by_key: dict[str, Task], claimed_tasks: dict[str, str], snapshot: Snapshot
) -> None:
    """DB tasks of re-read workplans that no file lists any more: to flag, never to delete."""
    for task in tasks_by_key.values():
        if (
            task.key in claimed_tasks
            or task.missing_from_workplan_at is not None
            or task.workstream.repo_id != snapshot.repo_id
        ):
            continue
        finding = Finding(
            kind="task_missing_from_workplan",
            message=f"task {task.key} is no longer listed in {task.workstream.source_path or task.workstream.key}",
            file=task.workstream.source_path or None,
            key=task.key,
            field="missing_from_workplan_at",
        )
        result.drift.append(finding)
        result.vanished_tasks.append((task, finding))


def _orphans(result: Comparison, claimed: dict[str, str], present_ids: set[Any], snapshot: Snapshot) -> None:
    """Workstreams whose file is gone: to flag (`missing_from_repo_at`), never to delete."""
    for workstream in snapshot.workstreams.values():
        if workstream.key in claimed or workstream.pk in present_ids or workstream.missing_from_repo_at:
            continue
        finding = Finding(
            kind="workstream_missing_from_repo",
            message=f"workstream {workstream.key}: its workplan file is gone",
            file=workstream.source_path or None,
            key=workstream.key,
            field="missing_from_repo_at",
        )
        result.drift.append(finding)
        result.orphans.append((workstream, finding))
