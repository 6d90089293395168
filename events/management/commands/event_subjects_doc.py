"""`manage.py event_subjects_doc [--check]`: write the subjects doc, schemas, AsyncAPI document and contract record."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.asyncapi import render_asyncapi_yaml
from events.evolution import (
    CONTRACT_PATH,
    breaking_changes,
    current_major,
    load_contract,
    registry_contract,
    render_contract,
    with_additions,
)
from events.schemas import changed_published_versions, render_schema, render_schema_files, schema_filename
from events.subjects import REGISTRY, render_subjects_doc

DEFAULT_PATH = Path(settings.BASE_DIR) / "docs" / "nats-event-subjects.md"
DEFAULT_SCHEMAS_DIR = Path(settings.BASE_DIR) / "docs" / "schemas"
DEFAULT_ASYNCAPI_PATH = Path(settings.BASE_DIR) / "docs" / "asyncapi.yaml"
# The reference consumer bundles the current schemas, so it never fetches one at run time.
DEFAULT_CONSUMER_SCHEMAS_DIR = Path(settings.BASE_DIR) / "reference_consumer" / "schemas"


class Command(BaseCommand):
    """Generate the subjects doc, JSON Schemas, AsyncAPI document and contract record from the registry, or check."""

    help = (
        "Write docs/nats-event-subjects.md, docs/schemas/*.json, docs/asyncapi.yaml and the additions to "
        "events/published_contract.json from the subject registry (--check: fail if any is out of date). "
        "Refuses a registry that removed or changed a published attribute within its major version, or "
        "changed a published schema version without bumping the subject's schema_revision."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Exit non-zero if a file differs.")
        parser.add_argument("--output", type=Path, default=DEFAULT_PATH, help="Where the document lives.")
        parser.add_argument(
            "--schemas-dir", type=Path, default=DEFAULT_SCHEMAS_DIR, help="Where the JSON Schemas live."
        )
        parser.add_argument(
            "--consumer-schemas-dir",
            type=Path,
            default=DEFAULT_CONSUMER_SCHEMAS_DIR,
            help="Where the reference consumer's bundled schemas live.",
        )
        parser.add_argument(
            "--asyncapi", type=Path, default=DEFAULT_ASYNCAPI_PATH, help="Where the AsyncAPI 3.0 document lives."
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
        problems += changed_published_versions(schemas_dir)
        if problems:
            raise CommandError(
                "The registry breaks what consumers were promised: "
                + " ".join(problems)
                + " Add attributes instead, or publish the change under a new major version."
            )
        wanted = {path: render_subjects_doc(), options["asyncapi"]: render_asyncapi_yaml()}
        wanted[options["contract"]] = render_contract(with_additions(recorded, current, major=current_major()))
        wanted |= {schemas_dir / name: text for name, text in render_schema_files().items()}
        consumer_dir: Path = options["consumer_schemas_dir"]
        wanted |= {consumer_dir / schema_filename(name): render_schema(subject) for name, subject in REGISTRY.items()}
        # A schema file whose subject left the registry is stale too.
        # (Versioned copies in subfolders are never stray: a published version stays served.)
        stray = sorted(
            file
            for folder in (schemas_dir, consumer_dir)
            if folder.is_dir()
            for file in set(folder.glob("*.json")) - set(wanted)
        )
        if options["check"]:
            outdated = [
                str(file)
                for file, text in wanted.items()
                if not file.exists() or file.read_text(encoding="utf-8") != text
            ]
            if outdated or stray:
                names = ", ".join(outdated + [f"{file} (no such subject)" for file in stray])
                raise CommandError(f"Files out of date: {names}; run `manage.py event_subjects_doc`.")
            self.stdout.write(
                f"{path}, {options['asyncapi']}, the contract record and the schemas in {schemas_dir} "
                "match the registry."
            )
            return
        for file, text in wanted.items():
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
        for file in stray:
            file.unlink()
        self.stdout.write(f"Wrote {path}, {options['asyncapi']}, the contract record and the schemas in {schemas_dir}.")
