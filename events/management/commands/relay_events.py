"""`manage.py relay_events [--once]`: publish due pending outbox events (the relay, for cron or by hand)."""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from events.relay import relay_pending_events


class Command(BaseCommand):
    """Drain due pending outbox events to JetStream, once or in a loop every `EVENTS_RELAY_INTERVAL_S`."""

    help = "Publish due pending outbox events to JetStream (once, or in a loop)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Drain the due backlog once and exit.")
        parser.add_argument(
            "--interval", type=float, default=None, help="Seconds between sweeps (default EVENTS_RELAY_INTERVAL_S)."
        )
        parser.add_argument("--batch-size", type=int, default=None, help="Rows claimed per batch.")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["interval"] if options["interval"] is not None else settings.EVENTS_RELAY_INTERVAL_S
        if interval <= 0 or (options["batch_size"] is not None and options["batch_size"] <= 0):
            self.stderr.write("--interval and --batch-size must be positive.")
            raise SystemExit(2)
        try:
            while True:
                report = relay_pending_events(batch_size=options["batch_size"])
                summary = ", ".join(f"{name} {value}" for name, value in report.as_dict().items())
                if report.claimed or options["once"]:
                    self.stdout.write(summary)
                for error in report.errors[:5]:
                    self.stderr.write(f"  {error}")
                if options["once"]:
                    return
                time.sleep(interval)
        except KeyboardInterrupt:
            self.stderr.write("Relay stopped.")
