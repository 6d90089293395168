"""`manage.py cleanup_stale_tasks [--dry-run] [--json]`: cancel open tasks that lost their reason to exist."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser, OutputWrapper

from hub import history
from hub.services.maintenance import stale_tasks_cleanup


class Command(BaseCommand):
    """Cancel stale tasks (closed workstream, or no longer in their workplan file), one event each."""

    help = (
        "Cancel open tasks of completed/archived workstreams and tasks their workplan file no longer lists; "
        "records one org.statehub.task.stale event per task and one summary progress event."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would be canceled; change nothing.")
        parser.add_argument("--json", action="store_true", help="Print a machine-readable report on stdout.")
        parser.add_argument("--batch-size", type=int, default=500, help="Tasks per transaction (default 500).")

    def handle(self, *args: Any, **options: Any) -> None:
        progress = _ProgressBar(self.stderr) if self.stderr.isatty() else None
        with history.door(history.Door.COMMAND):
            report = stale_tasks_cleanup(
                dry_run=options["dry_run"],
                batch_size=max(1, options["batch_size"]),
                on_progress=progress.update if progress else None,
            )
        if progress:
            progress.finish()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        verb = "would cancel" if report.dry_run else "canceled"
        counts = report.found if report.dry_run else report.canceled
        total = report.total_found if report.dry_run else report.total_canceled
        self.stdout.write(f"Stale tasks: {report.total_found} found, {verb} {total}.")
        for reason, count in counts.items():
            self.stdout.write(f"  {reason}: {count}")
        if report.skipped:
            self.stdout.write(f"  skipped (no longer stale when reached): {report.skipped}")
        if report.summary_event_id:
            self.stdout.write(f"Summary progress event: {report.summary_event_id}")


class _ProgressBar:
    """A one-line progress bar on stderr, only used when stderr is a terminal."""

    def __init__(self, stream: OutputWrapper) -> None:
        self.stream = stream
        self.shown = False

    def update(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} tasks", style_func=str, ending="")
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("", style_func=str)
