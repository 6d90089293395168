"""Applying a comparison's plan to the database, through the hub's services only.

Transitions therefore follow the table and record their events, whichever door a change came
through. Workplans are applied in chunks, one transaction each, every workplan in its own
savepoint: a workplan is never half-written, and a first import does not pay one commit per
file. A write the services refuse becomes a conflict in the report, never the end of the run.
"""

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from hub import history
from hub.models import Repo, Task, Workstream
from hub.reconcile.comparing import Comparison, WorkplanPlan
from hub.reconcile.reporting import APPLIED, CONFLICT, Finding, RepoReport
from hub.services import repo_update, task_update, workstream_create, workstream_update
from hub.services.workstreams import tasks_create_bulk, workplans_import
from statehub.errors import ServiceError

WORKPLANS_PER_TRANSACTION = 50


def record_attempt(repo: Repo) -> None:
    """Note that a fixing reconciliation of this repo starts now, so sweeps take the others first next time."""
    attempted_at = timezone.now()
    with history.untracked():  # bookkeeping of every run, not a change of the repo: no history row
        repo_update(repo=repo, data={"last_attempted_at": attempted_at})
    repo.last_attempted_at = attempted_at


class Application:
    """Carries out one repo's plan and records what it changed in the repo's report."""

    def __init__(self, repo: Repo, report: RepoReport, *, started_at: dt.datetime) -> None:
        self.repo = repo
        self.report = report
        self.started_at = started_at
        # Rows this run wrote, with the updated_at it left, to tell own writes from concurrent edits.
        self.written: dict[tuple[type[Task | Workstream], Any], dt.datetime] = {}

    def apply(self, comparison: Comparison, *, out_of_time: Callable[[], bool]) -> bool:
        """Apply every workplan, then flag vanished tasks and orphans; False when the time ran out first."""
        with history.door(history.Door.SYNC):
            return self._apply(comparison, out_of_time=out_of_time)

    def _apply(self, comparison: Comparison, *, out_of_time: Callable[[], bool]) -> bool:
        plans = comparison.workplans
        for start in range(0, len(plans), WORKPLANS_PER_TRANSACTION):
            if start and out_of_time():
                return False
            with transaction.atomic():
                self._apply_chunk(plans[start : start + WORKPLANS_PER_TRANSACTION])
        if not comparison.vanished_tasks and not comparison.orphans:
            return True
        with transaction.atomic():
            for task, finding in comparison.vanished_tasks:
                data = {"missing_from_workplan_at": self.started_at}
                self._flag(finding, functools.partial(task_update, task=task, data=data))
            for workstream, finding in comparison.orphans:
                data = {"missing_from_repo_at": self.started_at}
                self._flag(finding, functools.partial(workstream_update, workstream=workstream, data=data))
        return True

    def mark_synced(self, *, deferred: dict[Any, dt.datetime] | None = None) -> None:
        """Record `last_synced_at`, unless someone else edited this repo's rows while the run was going.

        A run that wrote nothing records the time its rows were read (`started_at`), without a query:
        whatever was edited since is edited "since the last sync" for the next run. With `deferred`,
        the time is put there (repo pk → time) for the caller to write with its batch's others.
        """
        if not self.written:
            self._synced(self.started_at, deferred)
            return
        end = timezone.now()
        concurrent = False
        recent: list[tuple[type[Task | Workstream], Any]] = [
            (Workstream, Workstream.objects.filter(repo=self.repo, updated_at__gt=self.started_at)),
            (Task, Task.objects.filter(workstream__repo=self.repo, updated_at__gt=self.started_at)),
        ]
        for model, rows in recent:
            for pk, updated_at in rows.values_list("pk", "updated_at").iterator():
                if self.written.get((model, pk)) != updated_at:
                    concurrent = True
        # With a concurrent edit, the next run must re-check everything edited since this run began.
        self._synced(self.started_at if concurrent else end, deferred)

    def _synced(self, synced_at: dt.datetime, deferred: dict[Any, dt.datetime] | None) -> None:
        if deferred is not None:
            deferred[self.repo.pk] = synced_at
        else:
            with history.untracked():
                repo_update(repo=self.repo, data={"last_synced_at": synced_at})
        self.repo.last_synced_at = synced_at
        self.report.synced_at = synced_at

    def _apply_chunk(self, plans: list[WorkplanPlan]) -> None:
        """Apply a chunk of workplans: brand-new ones in one bulk import, the others one by one."""
        fresh = [plan for plan in plans if plan.is_fresh]
        if len(fresh) > 1 and self._import_fresh(fresh):
            plans = [plan for plan in plans if not plan.is_fresh]
        for plan in plans:
            self._apply_plan(plan)

    def _import_fresh(self, plans: list[WorkplanPlan]) -> bool:
        """Create new workstreams with all their tasks in bulk; on any error fall back to one by one."""
        try:
            with transaction.atomic():
                imported = workplans_import(
                    items=[
                        ({"repo": self.repo, **(plan.created or {})}, [v for _, v in plan.task_plan]) for plan in plans
                    ]
                )
        except ServiceError:
            return False
        for plan, (workstream, tasks) in zip(plans, imported, strict=True):
            self._wrote(workstream)
            for task in tasks:
                self._wrote(task)
            self._applied(plan.drift)
        return True

    def _apply_plan(self, plan: WorkplanPlan) -> None:
        """Apply one workplan in its own savepoint: it is written whole or not at all."""
        workstream = plan.workstream
        try:
            with transaction.atomic():
                if workstream is None:
                    workstream = self._wrote(workstream_create(data={"repo": self.repo, **(plan.created or {})}))
                new_tasks = [values for task, values in plan.task_plan if task is None]
                if new_tasks:
                    for created_task in tasks_create_bulk(workstream=workstream, items=new_tasks):
                        self._wrote(created_task)
                for existing, values in plan.task_plan:
                    if existing is not None:
                        if "workstream" in values:
                            values = {**values, "workstream": workstream}
                        self._wrote(task_update(task=existing, data=values))
                # The workstream last: its tasks are in place when a transition records its event.
                if plan.workstream_changes:
                    # The change comes from the file itself: nothing to contradict, and no second read of it.
                    self._wrote(
                        workstream_update(workstream=workstream, data=plan.workstream_changes, despite_workplan=True)
                    )
        except ServiceError as exc:
            spec = plan.spec
            self.report.conflicts.append(
                Finding(
                    kind="conflict",
                    message=f"workplan {spec.key} could not be applied: {exc.message}",
                    file=spec.path,
                    line=spec.line,
                    key=spec.key,
                    outcome=CONFLICT,
                )
            )
            return
        self._applied(plan.drift)

    def _flag(self, finding: Finding, write: Callable[[], Any]) -> None:
        try:
            instance = write()  # a service: its own savepoint
        except ServiceError as exc:
            self.report.conflicts.append(
                Finding(
                    kind="conflict",
                    message=f"could not apply {finding.kind}: {exc.message}",
                    file=finding.file,
                    line=finding.line,
                    key=finding.key,
                    outcome=CONFLICT,
                )
            )
            return
        self._wrote(instance)
        finding.outcome = APPLIED
        self.report.applied.append(finding)

    def _applied(self, drift: list[Finding]) -> None:
        for item in drift:
            item.outcome = APPLIED
        self.report.applied.extend(drift)

    def _wrote(self, instance: Any) -> Any:
        self.written[(type(instance), instance.pk)] = instance.updated_at
        return instance
