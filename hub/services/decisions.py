"""Writes for decisions and the progress log."""

from typing import Any

from django.db import transaction
from django.utils import timezone

import events
from events.subjects import DECISION_RESOLVED
from hub.errors import ValidationFailed
from hub.models import Decision, ProgressEvent, Task, Workstream
from hub.services._common import apply_fields, reject_unknown_fields, validate_and_save
from hub.transitions import check_transition, normalize_status, status_change

DECISION_FIELDS = {"key", "title", "question", "options", "status", "repo", "workstream"}
RESOLUTION_FIELDS = {"rationale", "chosen_option", "decided_by"}


def _validate_options(options: Any) -> None:
    if not isinstance(options, list) or not all(isinstance(option, str) and option for option in options):
        raise ValidationFailed("Options must be a list of non-empty strings.", field="options")
    if len(set(options)) != len(options):
        raise ValidationFailed("Options must not repeat.", field="options")


@transaction.atomic
def decision_create(*, data: dict[str, Any]) -> Decision:
    """Open a decision (any starting status; resolved ones go through `decision_resolve`)."""
    reject_unknown_fields(data, DECISION_FIELDS)
    values = dict(data)
    if "status" in values:
        values["status"] = normalize_status(Decision, values["status"])
        if values["status"] == Decision.Status.RESOLVED:
            raise ValidationFailed("Create the decision open, then resolve it.", field="status")
    _validate_options(values.get("options", []))
    return validate_and_save(Decision(**values), creating=True)


@transaction.atomic
def decision_update(*, decision: Decision, data: dict[str, Any], actor: str = "") -> Decision:
    """Change a decision; resolving goes through `decision_resolve`, other moves through the table."""
    reject_unknown_fields(data, DECISION_FIELDS | RESOLUTION_FIELDS)
    decision = Decision.objects.select_for_update().get(pk=decision.pk)
    values = dict(data)
    target = status_change(decision, values.pop("status")) if "status" in values else None
    resolution = {name: values.pop(name) for name in RESOLUTION_FIELDS & set(values)}
    if "options" in values:
        _validate_options(values["options"])
    if "options" in values and decision.chosen_option and decision.chosen_option not in values["options"]:
        raise ValidationFailed(f"The options must keep the chosen option '{decision.chosen_option}'.", field="options")
    if apply_fields(decision, values):
        validate_and_save(decision)
    if target == Decision.Status.RESOLVED and (decision.status != target or resolution):
        return decision_resolve(
            decision=decision,
            rationale=resolution.get("rationale", ""),
            chosen_option=resolution.get("chosen_option") or None,
            decided_by=resolution.get("decided_by") or actor,
        )
    if resolution:
        # Set once, by resolving; a resolved decision's answer is not edited afterwards.
        raise ValidationFailed("Rationale, chosen option and decider are set by resolving the decision.")
    if target is not None and target != decision.status:
        decision.status = target
        validate_and_save(decision)
    return decision


@transaction.atomic
def decision_resolve(
    *, decision: Decision, rationale: str, decided_by: str, chosen_option: str | None = None
) -> Decision:
    """Resolve an open or escalated decision, log a milestone, and record `org.statehub.decision.resolved`."""
    decision = Decision.objects.select_for_update(of=("self",)).select_related("repo", "workstream").get(pk=decision.pk)
    check_transition(Decision, decision.status, Decision.Status.RESOLVED)
    if not isinstance(rationale, str) or not rationale.strip():
        raise ValidationFailed("A rationale is required to resolve a decision.", field="rationale")
    if not decided_by:
        raise ValidationFailed("Say who decided (decided_by).", field="decided_by")
    if chosen_option is not None and chosen_option not in decision.options:
        offered = ", ".join(decision.options) or "none"
        raise ValidationFailed(f"'{chosen_option}' is not one of the options ({offered}).", field="chosen_option")
    decision.status = Decision.Status.RESOLVED
    decision.rationale = rationale.strip()
    decision.chosen_option = chosen_option or ""
    decision.decided_by = decided_by
    decision.resolved_at = timezone.now()
    validate_and_save(decision)
    progress_event_add(
        summary=f"Decision {decision.key} resolved: {decision.chosen_option or decision.title}"[:500],
        event_type=ProgressEvent.EventType.MILESTONE,
        detail=decision.rationale,
        workstream=decision.workstream,
        author=decided_by,
    )
    events.record(
        DECISION_RESOLVED.name,
        {
            "decision_id": decision.id,
            "decision_key": decision.key,
            "title": decision.title,
            "rationale": decision.rationale,
            "chosen_option": decision.chosen_option or None,
            "decided_by": decision.decided_by,
            "resolved_at": decision.resolved_at,
            "repo_slug": decision.repo.slug if decision.repo else None,
            "workstream_key": decision.workstream.key if decision.workstream else None,
        },
        occurred_at=decision.resolved_at,
    )
    return decision


@transaction.atomic
def progress_event_add(
    *,
    summary: str,
    event_type: str = ProgressEvent.EventType.NOTE,
    detail: str = "",
    workstream: Workstream | None = None,
    task: Task | None = None,
    author: str = "",
) -> ProgressEvent:
    """Append an entry to the progress log (a task implies its workstream)."""
    if event_type not in ProgressEvent.EventType.values:
        raise ValidationFailed(
            f'"{event_type}" is not a progress event type (one of: {", ".join(ProgressEvent.EventType.values)}).',
            field="event_type",
        )
    if task is not None:
        if workstream is not None and task.workstream_id != workstream.pk:
            raise ValidationFailed(f"Task {task.key} is not in workstream {workstream.key}.", field="task")
        workstream = task.workstream
    event = ProgressEvent(
        summary=summary, event_type=event_type, detail=detail, workstream=workstream, task=task, author=author
    )
    return validate_and_save(event, creating=True)
