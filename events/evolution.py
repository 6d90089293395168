"""The evolution guard: what each major version of the envelope has promised, and what would break it.

`events/published_contract.json` records, per major version, every attribute each subject has
carried and the JSON Schema of its values (type and nullability). It only grows:
`manage.py event_subjects_doc` adds the attributes the registry gained, and refuses, like the
test suite, a registry that dropped a recorded attribute or changed its schema within the same
major version. Removing or changing an attribute therefore takes a new major version of
`ENVELOPE_VERSION`, under which the record starts afresh; the old one stays as the history of
what 1.x consumers may rely on.
"""

import json
from pathlib import Path
from typing import Any

from events.schemas import attribute_schema
from events.subjects import ENVELOPE_VERSION, REGISTRY, Subject

CONTRACT_PATH = Path(__file__).resolve().parent / "published_contract.json"

# {major: {subject: {attribute: JSON Schema of its values}}}
Contract = dict[str, dict[str, dict[str, Any]]]


def current_major() -> str:
    return ENVELOPE_VERSION.split(".")[0]


def registry_contract(registry: dict[str, Subject] | None = None) -> dict[str, dict[str, Any]]:
    """The registry's subjects as the contract records them: each attribute with the schema of its values."""
    subjects = REGISTRY if registry is None else registry
    return {
        subject.name: {attribute.name: attribute_schema(attribute) for attribute in subject.attributes}
        for subject in subjects.values()
    }


def breaking_changes(recorded: Contract, current: dict[str, dict[str, Any]], *, major: str) -> list[str]:
    """Why `current` breaks what version `major` recorded: a subject or attribute gone, or a schema changed."""
    problems = []
    for subject, attributes in recorded.get(major, {}).items():
        if subject not in current:
            problems.append(f"{subject} was published in {major}.x and is no longer registered.")
            continue
        for name, schema in attributes.items():
            now = current[subject].get(name)
            if now is None:
                problems.append(f"{subject}: attribute {name!r} was published in {major}.x and has disappeared.")
            elif now != schema:
                problems.append(
                    f"{subject}: attribute {name!r} changed from {json.dumps(schema, sort_keys=True)} "
                    f"to {json.dumps(now, sort_keys=True)} within {major}.x."
                )
    return problems


def with_additions(recorded: Contract, current: dict[str, dict[str, Any]], *, major: str) -> Contract:
    """`recorded` plus the subjects and attributes `current` added under `major` (nothing is ever removed)."""
    merged: Contract = {version: {s: dict(a) for s, a in subjects.items()} for version, subjects in recorded.items()}
    version = merged.setdefault(major, {})
    for subject, attributes in current.items():
        known = version.setdefault(subject, {})
        for name, schema in attributes.items():
            known.setdefault(name, schema)
    return merged


def load_contract(path: Path = CONTRACT_PATH) -> Contract:
    if not path.exists():
        return {}
    contract: Contract = json.loads(path.read_text(encoding="utf-8"))
    return contract


def render_contract(contract: Contract) -> str:
    """The record as committed: sorted, one attribute per line, so a diff shows exactly what was added."""
    majors = []
    for major in sorted(contract):
        subjects = []
        for subject in sorted(contract[major]):
            attributes = contract[major][subject]
            lines = [
                f"      {json.dumps(name)}: {json.dumps(attributes[name], sort_keys=True, ensure_ascii=False)}"
                for name in sorted(attributes)
            ]
            subjects.append(f"    {json.dumps(subject)}: {{\n" + ",\n".join(lines) + "\n    }")
        majors.append(f"  {json.dumps(major)}: {{\n" + ",\n".join(subjects) + "\n  }")
    return "{\n" + ",\n".join(majors) + "\n}\n"
