"""`manage.py event_subjects_doc [--check]`: write the subjects doc, the schemas and the contract record."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.evolution import (
    CONTRACT_PATH,
    breaking_changes,
    current_major,
    load_contract,
    registry_contract,
    render_contract,
    with_additions,
)
from events.schemas import render_schema_files
from events.subjects import render_subjects_doc

DEFAULT_PATH = Path(settings.BASE_DIR) / "docs" / "nats-event-subjects.md"
DEFAULT_SCHEMAS_DIR = Path(settings.BASE_DIR) / "docs" / "schemas"


class Command(BaseCommand):
    """Generate the subjects doc, the JSON Schemas and the contract record from `events/subjects.py`, or check them."""

    help = (
        "Write docs/nats-event-subjects.md, docs/schemas/*.json and the additions to "
        "events/published_contract.json from the subject registry (--check: fail if any is out of date). "
        "Refuses a registry that removed or changed a published attribute within its major version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Exit non-zero if a file differs.")
        parser.add_argument("--output", type=Path, default=DEFAULT_PATH, help="Where the document lives.")
        parser.add_argument(
            "--schemas-dir", type=Path, default=DEFAULT_SCHEMAS_DIR, help="Where the JSON Schemas live."
        )
        parser.add_argument(
            "--contract", type=Path, default=CONTRACT_PATH, help="The record of published attributes (append-only)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["output"]
        schemas_dir: Path = options["schemas_dir"]
        recorded = load_contract(options["contract"])
        current = registry_contract()
        problems = breaking_changes(recorded, current, major=current_major())
        if problems:
            raise CommandError(
                "The registry breaks what consumers were promised: "
                + " ".join(problems)
                + " Add attributes instead, or publish the change under a new major version."
            )
        wanted = {path: render_subjects_doc()}
        wanted[options["contract"]] = render_contract(with_additions(recorded, current, major=current_major()))
        wanted |= {schemas_dir / name: text for name, text in render_schema_files().items()}
        # A schema file whose subject left the registry is stale too.
        stray = sorted(set(schemas_dir.glob("*.json")) - set(wanted)) if schemas_dir.is_dir() else []
        if options["check"]:
            outdated = [
                str(file)
                for file, text in wanted.items()
                if not file.exists() or file.read_text(encoding="utf-8") != text
            ]
            if outdated or stray:
                names = ", ".join(outdated + [f"{file} (no such subject)" for file in stray])
                raise CommandError(f"Files out of date: {names}; run `manage.py event_subjects_doc`.")
            self.stdout.write(f"{path}, the contract record and the schemas in {schemas_dir} match the registry.")
            return
        for file, text in wanted.items():
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
        for file in stray:
            file.unlink()
        self.stdout.write(f"Wrote {path}, the contract record and the schemas in {schemas_dir}.")
