"""`manage.py event_subjects_doc [--check]`: write docs/nats-event-subjects.md from the subject registry."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.subjects import render_subjects_doc

DEFAULT_PATH = Path(settings.BASE_DIR) / "docs" / "nats-event-subjects.md"


class Command(BaseCommand):
    """Generate the event subjects document from `events/subjects.py`, or check that it is current."""

    help = "Write docs/nats-event-subjects.md from the subject registry (--check: fail if it is out of date)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Exit non-zero if the file differs.")
        parser.add_argument("--output", type=Path, default=DEFAULT_PATH, help="Where the document lives.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["output"]
        wanted = render_subjects_doc()
        if options["check"]:
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != wanted:
                raise CommandError(f"{path} is out of date; run `manage.py event_subjects_doc`.")
            self.stdout.write(f"{path} matches the registry.")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted, encoding="utf-8")
        self.stdout.write(f"Wrote {path}.")
