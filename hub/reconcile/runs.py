"""Running reconciliations: one repo now, or many in a sweep within a time budget, under one advisory lock.

A run reads the checkout (`reading`), loads the rows it is compared with (`snapshot`), compares
(`comparing`, pure), and with `fix` applies the plan through the services (`applying`). The time
budget is asked before every file and between chunks of writes; a repo cut short reports the files
it did not reach, flags no orphan, and keeps its `last_synced_at`.

A sweep takes the repos in batches of `SWEEP_BATCH_REPOS`: each batch's rows are read in three
queries, and its bookkeeping (attempts, syncs, the files' stamps) written in one statement each,
so a repo whose files are all unchanged costs no query of its own. Only a repo with something to
compare or write pays for it.
"""

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from hub.errors import Conflict
from hub.models import Repo
from hub.reconcile.applying import Application, record_attempt
from hub.reconcile.comparing import compare
from hub.reconcile.reading import CheckoutRefused, Reading, checkout_problem, open_checkout, read_workplans
from hub.reconcile.reporting import Finding, RepoReport, SweepReport
from hub.reconcile.snapshot import Snapshot, load_related, load_snapshot, load_snapshots, stored_stamp
from hub.services.domains import repos_mark_reconciliation
from hub.services.workstreams import workstream_sources_stamp

# Key of the session-level advisory lock every fixing run holds ("SHRC" in ASCII).
LOCK_KEY = 0x53485243
# Repos a sweep reads and books together (their workstreams are held in memory at once).
SWEEP_BATCH_REPOS = 200

logger = logging.getLogger(__name__)


class ReconciliationBusy(Conflict):
    """Another fixing reconciliation (command, sync or sweep) holds the advisory lock."""

    code = "reconciliation_running"


class CheckoutUnreadable(Conflict):
    """The repo has no readable checkout (`local_path`) with a workplan directory."""

    code = "checkout_unreadable"


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


def _never() -> bool:
    return False


@dataclass
class Bookkeeping:
    """The writes that are not the files' state, kept for one statement each: syncs and the files' stamps."""

    synced: dict[Any, dt.datetime] = field(default_factory=dict)  # repo pk -> last_synced_at
    stamps: list[tuple[Any, str, str, str]] = field(default_factory=list)  # (repo pk, path, hash, stamp)

    def add_stamps(self, repo: Repo, reading: Reading) -> None:
        self.stamps.extend(
            (repo.pk, file.path, file.content_hash, stored_stamp(file.stamp, file.content_hash))
            for file in reading.files
            if file.stamp and file.content_hash and file.error is None
        )

    def write(self) -> None:
        repos_mark_reconciliation(field="last_synced_at", times=self.synced)
        workstream_sources_stamp(stamps=self.stamps)
        self.synced, self.stamps = {}, []


def run_repo(
    repo: Repo,
    *,
    fix: bool,
    out_of_time: Callable[[], bool] = _never,
    snapshot: Snapshot | None = None,
    bookkeeping: Bookkeeping | None = None,
) -> RepoReport:
    """One pass over one repo: read, compare, and with `fix` apply (the caller holds the lock when fixing).

    Alone, the run records its attempt and writes its bookkeeping itself; in a sweep's batch, the
    sweep passes the repo's `snapshot` and a `bookkeeping` it writes for the whole batch (and has
    recorded the attempt).
    """
    started = time.monotonic()
    report = RepoReport(repo=repo.slug, fix=fix)
    alone = bookkeeping is None
    books = Bookkeeping() if bookkeeping is None else bookkeeping
    if fix and alone:
        record_attempt(repo)
    try:
        checkout = open_checkout(repo)
    except CheckoutRefused as exc:
        report.errors.append(Finding(kind="unreadable_checkout", message=exc.message))
    else:
        if snapshot is None:
            snapshot = load_snapshot(repo)
        reading = read_workplans(
            checkout, unchanged=snapshot.is_unchanged, stamped=snapshot.stamped, out_of_time=out_of_time
        )
        load_related(snapshot, reading)
        comparison = compare(reading, snapshot)
        report.files = comparison.files
        report.files_unchanged = comparison.files_unchanged
        report.files_not_reached = reading.not_reached
        report.drift = comparison.drift
        report.conflicts = comparison.conflicts
        report.errors = comparison.errors
        report.warnings = comparison.warnings
        if fix:
            # Edits since the rows were read count as concurrent: the next run re-checks them.
            application = Application(repo, report, started_at=snapshot.loaded_at)
            if application.apply(comparison, out_of_time=out_of_time) and reading.complete:
                application.mark_synced(deferred=books.synced)
        books.add_stamps(repo, reading)
    if alone:
        books.write()
    report.elapsed_s = time.monotonic() - started
    return report


def reconcile_repo(*, repo: Repo, fix: bool) -> RepoReport:
    """Compare one repo's workplan files with the database; with `fix`, apply the differences."""
    if not fix:
        return run_repo(repo, fix=False)
    with reconciliation_lock():
        return run_repo(repo, fix=True)


def repo_sync(*, repo: Repo) -> RepoReport:
    """Reconcile a repo now with `fix` (POST /repos/{slug}/sync); refuse a repo without a readable checkout."""
    problem = checkout_problem(repo)
    if problem:
        raise CheckoutUnreadable(problem)
    return reconcile_repo(repo=repo, fix=True)


def sweep(*, repos: Iterable[Repo] | None = None, fix: bool, max_seconds: float | None) -> SweepReport:
    """Reconcile every given repo (default: all active ones), least recently attempted first, within a time budget.

    The budget is checked before each repo and, inside a repo, before each file and between
    chunks of writes. Every fixing attempt is recorded (`last_attempted_at`) whether it succeeds
    or not, so a repo that keeps failing goes last and never starves the others. Repos without a
    `local_path` are listed as skipped.
    """
    started = time.monotonic()
    report = SweepReport(fix=fix, max_seconds=max_seconds)

    def out_of_time() -> bool:
        return max_seconds is not None and time.monotonic() - started >= max_seconds

    if repos is None:
        repos = Repo.objects.filter(status=Repo.Status.ACTIVE)
    now = timezone.now()
    ordered = sorted(repos, key=lambda r: (r.last_attempted_at is not None, r.last_attempted_at or now, r.slug))
    lock = reconciliation_lock() if fix else contextlib.nullcontext()
    with lock:
        for start in range(0, len(ordered), SWEEP_BATCH_REPOS):
            batch = ordered[start : start + SWEEP_BATCH_REPOS]
            if out_of_time():
                report.not_reached.extend(repo.slug for repo in batch)
                continue
            _sweep_batch(batch, report, fix=fix, out_of_time=out_of_time)
    report.elapsed_s = time.monotonic() - started
    return report


def _sweep_batch(batch: list[Repo], report: SweepReport, *, fix: bool, out_of_time: Callable[[], bool]) -> None:
    """One batch of a sweep: its rows read at once, each repo run, the bookkeeping written at once.

    Every repo of the batch is recorded as attempted before any runs, so a repo that brings the
    process down still goes last next time; those the budget then does not reach get their
    previous time back.
    """
    readable = [repo for repo in batch if repo.local_path]
    previous = {repo.pk: repo.last_attempted_at for repo in readable}
    if fix:
        attempted_at = timezone.now()
        repos_mark_reconciliation(field="last_attempted_at", times=dict.fromkeys(previous, attempted_at))
        for repo in readable:
            repo.last_attempted_at = attempted_at
    snapshots = load_snapshots(readable)
    books = Bookkeeping()
    not_reached: list[Repo] = []
    for repo in batch:
        if out_of_time():
            report.not_reached.append(repo.slug)
            if repo.local_path:
                not_reached.append(repo)
            continue
        if not repo.local_path:
            report.skipped.append({"repo": repo.slug, "reason": "no local_path"})
            continue
        report.repos.append(
            _run_or_report_failure(
                repo, fix=fix, out_of_time=out_of_time, snapshot=snapshots[repo.pk], bookkeeping=books
            )
        )
    books.write()
    if fix and not_reached:
        # A budget, not a failure: these were not tried, so they keep their turn.
        repos_mark_reconciliation(field="last_attempted_at", times={repo.pk: previous[repo.pk] for repo in not_reached})
        for repo in not_reached:
            repo.last_attempted_at = previous[repo.pk]


def _run_or_report_failure(
    repo: Repo, *, fix: bool, out_of_time: Callable[[], bool], snapshot: Snapshot, bookkeeping: Bookkeeping
) -> RepoReport:
    """One repo's reconciliation; an unexpected failure becomes an error in its report, not the sweep's end."""
    try:
        return run_repo(repo, fix=fix, out_of_time=out_of_time, snapshot=snapshot, bookkeeping=bookkeeping)
    except Exception as exc:
        logger.exception("Reconciliation of repo %s failed", repo.slug)
        failed = RepoReport(repo=repo.slug, fix=fix)
        failed.errors.append(Finding(kind="repo_failed", message=f"reconciliation failed: {exc}"))
        return failed
