"""The registry of lifecycle event subjects (v1.0): the single source of the contract with consumers.

`docs/nats-event-subjects.md` and the JSON Schemas in `docs/schemas/` are generated from this module
(`manage.py event_subjects_doc`), and `events.record` refuses attributes that differ from a
subject's registration. Attributes may be added (additive); none may be renamed, removed or change
type within version 1.x.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENVELOPE_VERSION = "1.0"
PUBLISHER = "state-hub"
STREAM_SUBJECTS = ["org.>"]

# The moment of a change as the envelope writes it: UTC, milliseconds, `Z`.
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"


@dataclass(frozen=True)
class AttributeType:
    """A named attribute type and the JSON Schema (2020-12) of its non-null values."""

    name: str
    schema: dict[str, Any]


UUID = AttributeType("uuid", {"type": "string", "format": "uuid"})
STRING = AttributeType("string", {"type": "string"})
TIMESTAMP = AttributeType("timestamp", {"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN})
TASK_COUNTS = AttributeType(
    "task counts",
    {
        "type": "object",
        "properties": {name: {"type": "integer", "minimum": 0} for name in ("total", "done", "cancel", "open")},
        "required": ["total", "done", "cancel", "open"],
        # Further counts may be added within 1.x, like attributes.
        "additionalProperties": True,
    },
)


@dataclass(frozen=True)
class Attribute:
    """One attribute of a subject: its name, type, meaning, and whether it may be null."""

    name: str
    type: AttributeType
    meaning: str
    nullable: bool = False

    @property
    def type_label(self) -> str:
        return f"{self.type.name} or null" if self.nullable else self.type.name


@dataclass(frozen=True)
class Subject:
    """One event subject: its name, when it is recorded, by whom, its aggregate and its attributes.

    `aggregate` is (kind, attribute): events whose `kind:value` agree belong to one aggregate and
    reach the stream in commit order.
    """

    name: str
    when: str
    recorded_by: str
    aggregate: tuple[str, str]
    attributes: tuple[Attribute, ...]
    # Bumped whenever the subject's JSON Schema changes within the major version (an attribute
    # added, a meaning reworded): a published schema URL names `<major>.<revision>` and never changes.
    schema_revision: int = 0

    @property
    def schema_version(self) -> str:
        """`1.0`: the envelope's major version and this subject's schema revision within it."""
        return f"{ENVELOPE_VERSION.split('.')[0]}.{self.schema_revision}"

    @property
    def attribute_names(self) -> frozenset[str]:
        return frozenset(attribute.name for attribute in self.attributes)

    def aggregate_key(self, attributes: dict[str, Any]) -> str:
        """The key that orders this event with the other events of its aggregate, e.g. `workstream:CUST-WP-0040`."""
        kind, attribute = self.aggregate
        return f"{kind}:{attributes[attribute]}"


REPO_REGISTERED = Subject(
    name="org.statehub.repo.registered",
    when="A repo is created.",
    recorded_by="`hub.services.repo_register` (`POST /repos/`, admin)",
    aggregate=("repo", "repo_slug"),
    attributes=(
        Attribute("repo_id", UUID, "UUID of the repo"),
        Attribute("repo_slug", STRING, "the repo's slug"),
        Attribute("domain_slug", STRING, "slug of its domain, or null", nullable=True),
        Attribute("remote_url", STRING, "git remote URL (may be empty)"),
        Attribute("local_path", STRING, "checkout path the hub reads (may be empty)"),
        Attribute("name", STRING, "display name"),
    ),
)

WORKSTREAM_COMPLETED = Subject(
    name="org.statehub.workstream.completed",
    when="Only on a transition into `completed`.",
    recorded_by="`hub.services.workstream_update` (`PATCH /workstreams/{key}/`, sync, admin)",
    aggregate=("workstream", "workstream_key"),
    attributes=(
        Attribute("workstream_id", UUID, "UUID of the workstream"),
        Attribute("workstream_key", STRING, "the workplan id, e.g. CUST-WP-0040"),
        Attribute("title", STRING, "workstream title"),
        Attribute("repo_slug", STRING, "slug of its repo"),
        Attribute("domain_slug", STRING, "slug of the repo's domain, or null", nullable=True),
        Attribute("previous_status", STRING, "status before the transition"),
        Attribute("completed_at", TIMESTAMP, "UTC time of completion"),
        Attribute("tasks", TASK_COUNTS, "task counts: {total, done, cancel, open}"),
    ),
)

DECISION_RESOLVED = Subject(
    name="org.statehub.decision.resolved",
    when="`open`/`escalated` → `resolved`.",
    recorded_by="`hub.services.decision_resolve` (`POST /decisions/{key}/resolve`, MCP `resolve_decision`)",
    aggregate=("decision", "decision_key"),
    attributes=(
        Attribute("decision_id", UUID, "UUID of the decision"),
        Attribute("decision_key", STRING, "e.g. DEC-0012"),
        Attribute("title", STRING, "decision title"),
        Attribute("rationale", STRING, "why this option was chosen"),
        Attribute("chosen_option", STRING, "the option chosen, or null", nullable=True),
        Attribute("decided_by", STRING, "who decided"),
        Attribute("resolved_at", TIMESTAMP, "UTC time of resolution"),
        Attribute("repo_slug", STRING, "slug of the related repo, or null", nullable=True),
        Attribute("workstream_key", STRING, "key of the related workstream, or null", nullable=True),
    ),
)

DOMAIN_GOAL_ACTIVATED = Subject(
    name="org.statehub.domain.goal.activated",
    when="A goal goes to `active`.",
    recorded_by="`hub.services.domain_goal_activate` (`POST /domain-goals/{key}/activate`)",
    aggregate=("domain-goals", "domain_slug"),
    attributes=(
        Attribute("goal_id", UUID, "UUID of the goal"),
        Attribute("goal_key", STRING, "the goal key, e.g. custodian-automation"),
        Attribute("domain_slug", STRING, "slug of its domain"),
        Attribute("title", STRING, "goal title"),
        Attribute("previous_status", STRING, "status before activation"),
        Attribute("superseded_goal_key", STRING, "key of the goal this one superseded, or null", nullable=True),
        Attribute("activated_at", TIMESTAMP, "UTC time of activation"),
    ),
)

TASK_STALE = Subject(
    name="org.statehub.task.stale",
    when="One per task that `cleanup_stale_tasks` cancels.",
    recorded_by="`hub.services.maintenance.stale_tasks_cancel_batch` (`manage.py cleanup_stale_tasks`)",
    aggregate=("task", "task_key"),
    attributes=(
        Attribute("task_id", UUID, "UUID of the task"),
        Attribute("task_key", STRING, "the task id, e.g. CUST-WP-0040-T05"),
        Attribute("title", STRING, "task title"),
        Attribute("workstream_key", STRING, "key of its workstream"),
        Attribute("workstream_status", STRING, "status of its workstream"),
        Attribute("repo_slug", STRING, "slug of the workstream's repo"),
        Attribute("previous_status", STRING, "task status before it was canceled"),
        Attribute("reason", STRING, "`workstream_closed` or `missing_from_workplan`"),
        Attribute("canceled_at", TIMESTAMP, "UTC time of cancellation"),
    ),
)

REGISTRY: dict[str, Subject] = {
    subject.name: subject
    for subject in (REPO_REGISTERED, WORKSTREAM_COMPLETED, DECISION_RESOLVED, DOMAIN_GOAL_ACTIVATED, TASK_STALE)
}


def aggregate_of(subject_name: str, attributes: dict[str, Any]) -> str:
    """The aggregate key of an event of `subject_name` (`ce-subject`), or "" for a subject not in the registry."""
    registration = REGISTRY.get(subject_name)
    if registration is None:
        return ""
    try:
        return registration.aggregate_key(attributes)
    except (KeyError, TypeError):
        return ""


# The consumer's part of `docs/nats-event-subjects.md` (prose about the wire, not about one subject), a
# `str.format` template: `{major}`, `{version}`, `{publisher}` and `{stream_subjects}` come from this module.
CONSUMER_GUIDE_PATH = Path(__file__).resolve().parent / "consumer_guide.md"


def render_subjects_doc() -> str:
    """The Markdown of `docs/nats-event-subjects.md`, generated from this registry."""
    major = ENVELOPE_VERSION.split(".")[0]
    lines = [
        "# NATS event subjects (v" + ENVELOPE_VERSION + ")",
        "",
        "<!-- Generated from events/subjects.py by `manage.py event_subjects_doc`; do not edit by hand. -->",
        "",
        *CONSUMER_GUIDE_PATH.read_text(encoding="utf-8")
        .format(
            major=major,
            version=ENVELOPE_VERSION,
            publisher=PUBLISHER,
            stream_subjects=", ".join(f"`{subject}`" for subject in STREAM_SUBJECTS),
        )
        .splitlines(),
    ]
    lines += [
        f"| `{s.name}` | {s.when} | {s.recorded_by} | `{s.aggregate[0]}:<{s.aggregate[1]}>` |"
        for s in REGISTRY.values()
    ]
    for subject in REGISTRY.values():
        lines += ["", f"## `{subject.name}`", "", f"When: {subject.when}", "", f"Recorded by: {subject.recorded_by}."]
        version = subject.schema_version
        lines += [
            "",
            f"Schema version {version}: "
            f"[`schemas/{subject.name}/{version}.json`](schemas/{subject.name}/{version}.json).",
        ]
        kind, attribute = subject.aggregate
        lines += ["", f"Aggregate (`ce-subject`) `{kind}:<{attribute}>`: ordered within it, not across."]
        lines += ["", "| attribute | type | meaning |", "|---|---|---|"]
        lines += [f"| `{a.name}` | {a.type_label} | {a.meaning} |" for a in subject.attributes]
    return "\n".join(lines) + "\n"
