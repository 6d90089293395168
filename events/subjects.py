"""The registry of lifecycle event subjects (v1.0): the single source of the contract with consumers.

`docs/nats-event-subjects.md` is generated from this module (`manage.py event_subjects_doc`),
and `events.record` refuses attributes that differ from a subject's registration.
Attributes may be added (additive); none may be renamed or removed within version 1.x.
"""

from dataclasses import dataclass

ENVELOPE_VERSION = "1.0"
PUBLISHER = "state-hub"
STREAM_SUBJECTS = ["org.>"]


@dataclass(frozen=True)
class Subject:
    """One event subject: its name, when it is recorded, by whom, and its attribute names."""

    name: str
    when: str
    recorded_by: str
    attributes: tuple[tuple[str, str], ...]

    @property
    def attribute_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.attributes)


REPO_REGISTERED = Subject(
    name="org.statehub.repo.registered",
    when="A repo is created.",
    recorded_by="`hub.services.repo_register` (`POST /repos/`, admin)",
    attributes=(
        ("repo_id", "UUID of the repo"),
        ("repo_slug", "the repo's slug"),
        ("domain_slug", "slug of its domain, or null"),
        ("remote_url", "git remote URL (may be empty)"),
        ("local_path", "checkout path the hub reads (may be empty)"),
        ("name", "display name"),
    ),
)

WORKSTREAM_COMPLETED = Subject(
    name="org.statehub.workstream.completed",
    when="Only on a transition into `completed`.",
    recorded_by="`hub.services.workstream_update` (`PATCH /workstreams/{key}/`, sync, admin)",
    attributes=(
        ("workstream_id", "UUID of the workstream"),
        ("workstream_key", "the workplan id, e.g. CUST-WP-0040"),
        ("title", "workstream title"),
        ("repo_slug", "slug of its repo"),
        ("domain_slug", "slug of the repo's domain, or null"),
        ("previous_status", "status before the transition"),
        ("completed_at", "ISO-8601 UTC time of completion"),
        ("tasks", "task counts: {total, done, cancel, open}"),
    ),
)

DECISION_RESOLVED = Subject(
    name="org.statehub.decision.resolved",
    when="`open`/`escalated` → `resolved`.",
    recorded_by="`hub.services.decision_resolve` (`POST /decisions/{key}/resolve`, MCP `resolve_decision`)",
    attributes=(
        ("decision_id", "UUID of the decision"),
        ("decision_key", "e.g. DEC-0012"),
        ("title", "decision title"),
        ("rationale", "why this option was chosen"),
        ("chosen_option", "the option chosen, or null"),
        ("decided_by", "who decided"),
        ("resolved_at", "ISO-8601 UTC time of resolution"),
        ("repo_slug", "slug of the related repo, or null"),
        ("workstream_key", "key of the related workstream, or null"),
    ),
)

DOMAIN_GOAL_ACTIVATED = Subject(
    name="org.statehub.domain.goal.activated",
    when="A goal goes to `active`.",
    recorded_by="`hub.services.domain_goal_activate` (`POST /domain-goals/{key}/activate`)",
    attributes=(
        ("goal_id", "UUID of the goal"),
        ("goal_key", "the goal key, e.g. custodian-automation"),
        ("domain_slug", "slug of its domain"),
        ("title", "goal title"),
        ("previous_status", "status before activation"),
        ("superseded_goal_key", "key of the goal this one superseded, or null"),
        ("activated_at", "ISO-8601 UTC time of activation"),
    ),
)

TASK_STALE = Subject(
    name="org.statehub.task.stale",
    when="One per task that `cleanup_stale_tasks` cancels.",
    recorded_by="`hub.services.maintenance.stale_tasks_cancel_batch` (`manage.py cleanup_stale_tasks`)",
    attributes=(
        ("task_id", "UUID of the task"),
        ("task_key", "the task id, e.g. CUST-WP-0040-T05"),
        ("title", "task title"),
        ("workstream_key", "key of its workstream"),
        ("workstream_status", "status of its workstream"),
        ("repo_slug", "slug of the workstream's repo"),
        ("previous_status", "task status before it was canceled"),
        ("reason", "`workstream_closed` or `missing_from_workplan`"),
        ("canceled_at", "ISO-8601 UTC time of cancellation"),
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
        "- No ordering is guaranteed across events; consumers re-read state when order matters.",
        "- Attributes may be added within version 1.x; none is renamed or removed.",
        "",
        "| subject | when | recorded by |",
        "|---|---|---|",
    ]
    lines += [f"| `{s.name}` | {s.when} | {s.recorded_by} |" for s in REGISTRY.values()]
    for subject in REGISTRY.values():
        lines += ["", f"## `{subject.name}`", "", f"When: {subject.when}", "", f"Recorded by: {subject.recorded_by}."]
        lines += ["", "| attribute | meaning |", "|---|---|"]
        lines += [f"| `{name}` | {meaning} |" for name, meaning in subject.attributes]
    return "\n".join(lines) + "\n"
