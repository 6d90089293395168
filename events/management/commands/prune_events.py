"""`manage.py prune_events`: delete published/skipped outbox rows past the retention period."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from events.retention import outbox_events_prune


class Command(BaseCommand):
    """Delete `published`/`skipped` outbox rows older than `EVENTS_RETENTION_DAYS`, in batches."""

    help = "Delete published/skipped outbox events older than the retention period (never pending or failed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=float, default=None, help="Retention in days (default EVENTS_RETENTION_DAYS)."
        )
        parser.add_argument("--batch-size", type=int, default=None, help="Rows deleted per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.EVENTS_RETENTION_DAYS
        if not 0 <= days <= 36500 or (options["batch_size"] is not None and options["batch_size"] <= 0):
            raise CommandError("--days must be between 0 and 36500 and --batch-size positive.")
        cutoff = timezone.now() - dt.timedelta(days=days)
        deleted = outbox_events_prune(older_than=cutoff, batch_size=options["batch_size"])
        self.stdout.write(f"Deleted {deleted} published/skipped event(s) created before {cutoff:%Y-%m-%d %H:%M} UTC.")
