"""The registry of lifecycle event subjects (v1.0): the single source of the contract with consumers.

`docs/nats-event-subjects.md` and the JSON Schemas in `docs/schemas/` are generated from this module
(`manage.py event_subjects_doc`), and `events.record` refuses attributes that differ from a
subject's registration. Attributes may be added (additive); none may be renamed, removed or change
type within version 1.x.
"""

from dataclasses import dataclass
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


def render_subjects_doc() -> str:
    """The Markdown of `docs/nats-event-subjects.md`, generated from this registry."""
    lines = [
        "# NATS event subjects (v" + ENVELOPE_VERSION + ")",
        "",
        "<!-- Generated from events/subjects.py by `manage.py event_subjects_doc`; do not edit by hand. -->",
        "",
        "The State Hub publishes one message per lifecycle transition to the JetStream stream",
        "`ACTIVITY_EVENTS` (setting `NATS_STREAM`; subjects " + ", ".join(f"`{s}`" for s in STREAM_SUBJECTS) + ").",
        "Every message body is this JSON envelope, with exactly these keys:",
        "",
        "```json",
        '{"id": "<uuid4>", "type": "<subject>", "version": "' + ENVELOPE_VERSION + '",',
        ' "timestamp": "2026-11-26T21:40:07.123Z", "publisher": "' + PUBLISHER + '", "attributes": {...}}',
        "```",
        "",
        "- `id` is fixed when the event is recorded and is also the `Nats-Msg-Id` header, so JetStream",
        "  drops a re-publish inside its duplicate window; consumers dedupe by `id` too.",
        "- `type` equals the NATS subject. `timestamp` is the moment of the state change (UTC, `Z`, milliseconds).",
        "- Attributes for absent relations are `null`. Times inside attributes use the same format as `timestamp`.",
        "- Events of one aggregate (one repo, workstream, decision or task, or the goals of one domain; each",
        "  subject below names its aggregate) reach the stream in the order their changes were committed,",
        "  however many relays and workers publish. Across aggregates there is no order.",
        "- Attributes may be added within version 1.x; none is renamed or removed.",
        "",
        "## JSON Schemas",
        "",
        "Each subject's envelope has a JSON Schema (2020-12), generated from the same registry: in",
        "[`docs/schemas/`](schemas/) (`<subject>.json`) and served by the hub at `/events/schemas/`",
        "(index) and `/events/schemas/<subject>.json` (authenticated like the rest of the API). The",
        "envelope's keys are fixed; `attributes` lists every attribute as required, with its type and",
        "whether it may be `null`, and admits attributes it does not list, so a copy of a schema keeps",
        "accepting events that gained an attribute later in 1.x.",
        "",
        "## CloudEvents headers",
        "",
        "Every message also carries CloudEvents 1.0 attributes as headers (NATS protocol binding, binary",
        "content mode), so a CloudEvents SDK reads it as an event whose data is the envelope above:",
        "",
        "| header | value |",
        "|---|---|",
        "| `Nats-Msg-Id` | the envelope `id` (JetStream's duplicate window) |",
        "| `ce-specversion` | `1.0` |",
        "| `ce-id` | the envelope `id` |",
        "| `ce-type` | the subject (= envelope `type`) |",
        "| `ce-source` | setting `CLOUDEVENTS_SOURCE` (default `/state-hub`) |",
        "| `ce-time` | the envelope `timestamp` |",
        "| `ce-dataschema` | the schema's absolute URL: `STATEHUB_PUBLIC_URL` + `/events/schemas/<subject>.json` |",
        "| `ce-datacontenttype`, `content-type` | `application/json` (the binding; HTTP-style readers use the other) |",
        "",
        "Values are percent-encoded as the binding requires. The body never changes for the headers.",
        "",
        "## Replay: catching up after a lost consumer",
        "",
        "The hub keeps every published envelope for `EVENTS_RETENTION_DAYS` (default 30) with the stream",
        "sequence JetStream gave it, so a consumer that lost its durable (deleted, expired, its stream",
        "purged) catches up from the hub instead of guessing from state:",
        "",
        "1. Note where it stopped: the stream sequence of the last message it processed, or else a time",
        "   a little before it.",
        "2. Create the new durable first, delivering only new messages, so nothing published meanwhile",
        "   falls between the replay and the live feed.",
        "3. Read what it missed over HTTP: `GET /events/?after=<stream_seq>`, or `GET /events/?since=<time>`,",
        "   either optionally with `&subject=<subject>`. These list published events only, in publish order,",
        "   each with its `envelope` and `stream_seq`, with cursor pagination: follow `next` until it is",
        "   `null`; new events arriving meanwhile do not disturb the cursor.",
        "4. Or let the hub put them on the stream again: `manage.py replay_events --since <time>",
        "   [--subject <subject>] [--dry-run]` re-publishes each stored envelope in publish order with its",
        "   original id, bytes and headers. JetStream drops a repeat inside its duplicate window",
        "   (`Nats-Msg-Id`; 2 minutes by default): those messages are still in the stream, so read them",
        "   there, or start the durable at the replay's start time (`deliver_policy: by_start_time`).",
        "5. Dedupe by envelope `id`: the replay overlaps what the consumer saw and what the new durable",
        "   delivers. Each aggregate's events arrive in order within each source.",
        "",
        "## Evolving a subject",
        "",
        "Within a major version (1.x) a subject only grows:",
        "",
        "- **Adding** an attribute keeps the version: register it in `events/subjects.py` and run",
        "  `manage.py event_subjects_doc`, which regenerates this page and the schemas and records the",
        "  new attribute in `events/published_contract.json`. Consumers ignore attributes they do not know.",
        "- **Removing, renaming, or changing the type or nullability** of an attribute, or dropping a",
        "  subject, needs a new major version of the envelope (`ENVELOPE_VERSION`), under which the",
        "  record starts afresh. `events/published_contract.json` lists every attribute each subject",
        "  has carried in 1.x and only grows; a test (`tests/events/test_evolution.py`) and",
        "  `event_subjects_doc` fail when the registry no longer carries a recorded attribute with the",
        "  same JSON Schema.",
        "",
        "| subject | when | recorded by |",
        "|---|---|---|",
    ]
    lines += [f"| `{s.name}` | {s.when} | {s.recorded_by} |" for s in REGISTRY.values()]
    for subject in REGISTRY.values():
        lines += ["", f"## `{subject.name}`", "", f"When: {subject.when}", "", f"Recorded by: {subject.recorded_by}."]
        lines += ["", f"Schema: [`schemas/{subject.name}.json`](schemas/{subject.name}.json)."]
        kind, attribute = subject.aggregate
        lines += ["", f"Ordered within its aggregate `{kind}:<{attribute}>`."]
        lines += ["", "| attribute | type | meaning |", "|---|---|---|"]
        lines += [f"| `{a.name}` | {a.type_label} | {a.meaning} |" for a in subject.attributes]
    return "\n".join(lines) + "\n"
