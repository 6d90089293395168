"""`manage.py replay_events --since TIME [--subject SUBJECT] [--dry-run]`: re-publish stored envelopes."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from events.replay import replay_plan, replay_published_events
from events.subjects import REGISTRY


def parse_since(value: str) -> dt.datetime:
    """An ISO-8601 date or date-time; a naive one is taken as UTC."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is not None:
            moment = dt.datetime.combine(day, dt.time())
    if moment is None:
        raise CommandError(f"--since must be an ISO-8601 date or date-time (e.g. 2026-12-01T08:00:00Z), not {value!r}.")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    """Re-publish the envelopes published since a moment, with their original ids, for a consumer catching up."""

    help = (
        "Re-publish stored envelopes published at or after --since (optionally one --subject), in publish "
        "order, with their original ids and headers. JetStream drops repeats inside its duplicate window; "
        "consumers dedupe by id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="ISO-8601 date or date-time (UTC when no offset).")
        parser.add_argument("--subject", default="", help="Only this subject (default: every subject).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be sent; send nothing.")
        parser.add_argument("--batch-size", type=int, default=None, help="Envelopes per pipelined batch.")

    def handle(self, *args: Any, **options: Any) -> None:
        since = parse_since(options["since"])
        subject = options["subject"]
        if subject and subject not in REGISTRY:
            raise CommandError(f"Unknown subject {subject!r}; the subjects are: {', '.join(REGISTRY)}.")
        if options["batch_size"] is not None and options["batch_size"] <= 0:
            raise CommandError("--batch-size must be positive.")
        scope = f"published since {since.isoformat()}" + (f" on {subject}" if subject else "")
        if options["dry_run"]:
            plan = replay_plan(since=since, subject=subject)
            if not plan.sent:
                self.stdout.write(f"Would re-publish nothing: no event {scope}.")
                return
            self.stdout.write(
                f"Would re-publish {plan.sent} event(s) {scope}: first {plan.first_id}, last {plan.last_id} "
                f"(stream sequence up to {plan.last_stream_seq})."
            )
            return
        if not settings.NATS_URL:
            raise CommandError("NATS_URL is not set: there is no JetStream to re-publish to.")
        report = replay_published_events(since=since, subject=subject, batch_size=options["batch_size"])
        self.stdout.write(
            f"Re-published {report.sent} event(s) {scope}: {report.stored} stored again, "
            f"{report.duplicates} dropped by JetStream as duplicates."
        )
        if report.errors:
            raise CommandError(
                f"Stopped after stream sequence {report.last_stream_seq}: {report.errors[0]} "
                "Run the command again once NATS accepts messages; repeats are harmless."
            )
