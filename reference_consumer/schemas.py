"""The envelope schemas bundled with the consumer: one JSON Schema (2020-12) file per subject, read at start.

Schemas are never fetched at run time (`ce-dataschema` names one, but a consumer that needs the
hub's web server to accept an event has made the hub's uptime its own). An envelope whose type has
no bundled schema is treated like one that fails its schema: the consumer cannot vouch for it.
Within version 1.x the hub only adds attributes and the schemas admit unknown ones, so an older
bundle keeps accepting newer events of the subjects it knows.
"""

import json
from pathlib import Path
from typing import Any

import jsonschema

BUNDLED_SCHEMAS = Path(__file__).resolve().parent / "schemas"


class SchemaBook:
    """A validator per subject, from the `<subject>.json` files of one directory."""

    def __init__(self, directory: Path) -> None:
        self.validators: dict[str, jsonschema.Draft202012Validator] = {}
        for path in sorted(directory.glob("*.json")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            jsonschema.Draft202012Validator.check_schema(schema)
            self.validators[path.name.removesuffix(".json")] = jsonschema.Draft202012Validator(
                schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
            )
        if not self.validators:
            raise ValueError(f"No <subject>.json schema files in {directory}")

    def problem(self, envelope: Any) -> str | None:
        """Why the envelope is not one this consumer accepts, or `None` when it is valid."""
        if not isinstance(envelope, dict):
            return "The message body is not a JSON object."
        validator = self.validators.get(str(envelope.get("type")))
        if validator is None:
            return f"No bundled schema for type {envelope.get('type')!r}."
        error = jsonschema.exceptions.best_match(validator.iter_errors(envelope))
        if error is None:
            return None
        where = "/".join(str(part) for part in error.absolute_path) or "(envelope)"
        return f"{where}: {error.message}"
