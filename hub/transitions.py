"""Every allowed status transition, in one table, and the mapping of older status words.

Services call `check_transition`; nothing else decides whether a status may change.
Creating an object is not a transition: it may start in any status.
"""

from hub.errors import InvalidTransition, ValidationFailed

# A tuple, not a set: the table's order of statuses is the order forms offer them in.
_TASK_OPEN = ("wait", "todo", "progress")

TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "domain": {
        "active": frozenset({"archived"}),
        "archived": frozenset({"active"}),
    },
    "repo": {
        "active": frozenset({"archived"}),
        "archived": frozenset({"active"}),
    },
    "domain_goal": {
        "proposed": frozenset({"active", "archived"}),
        "active": frozenset({"superseded", "achieved", "archived"}),
        "superseded": frozenset(),
        "achieved": frozenset(),
        "archived": frozenset(),
    },
    "workstream": {
        "proposed": frozenset({"ready", "active", "backlog", "archived"}),
        "ready": frozenset({"active", "backlog", "archived"}),
        "active": frozenset({"blocked", "backlog", "completed", "archived"}),
        "blocked": frozenset({"active", "backlog", "archived"}),
        "backlog": frozenset({"ready", "active", "archived"}),
        "completed": frozenset({"archived"}),
        "archived": frozenset(),
    },
    "task": {
        **{status: frozenset(set(_TASK_OPEN) - {status}) | {"done", "cancel"} for status in _TASK_OPEN},
        "done": frozenset({"todo"}),
        "cancel": frozenset(),
    },
    "decision": {
        "open": frozenset({"escalated", "resolved", "superseded"}),
        "escalated": frozenset({"resolved", "superseded"}),
        "resolved": frozenset(),
        "superseded": frozenset(),
    },
}

# Older words found in existing workplan files and clients, mapped to today's vocabulary.
LEGACY_STATUS_WORDS: dict[str, dict[str, str]] = {
    "task": {"in_progress": "progress", "blocked": "wait", "cancelled": "cancel", "canceled": "cancel"},
    "workstream": {"finished": "completed", "done": "completed"},
}


def normalize_status(kind: str, value: object) -> str:
    """Return the current status word for `value`, mapping older words; reject unknown ones."""
    if not isinstance(value, str):
        raise ValidationFailed(f"Status must be a string, not {type(value).__name__}.", field="status")
    word = value.strip().lower()
    word = LEGACY_STATUS_WORDS.get(kind, {}).get(word, word)
    if word not in TRANSITIONS[kind]:
        allowed = ", ".join(sorted(TRANSITIONS[kind]))
        raise ValidationFailed(
            f'"{value}" is not a {kind.replace("_", " ")} status (one of: {allowed}).', field="status"
        )
    return word


def next_statuses(kind: str, current: str) -> list[str]:
    """The statuses an object of `kind` may move to from `current`, in the table's order of statuses."""
    allowed = TRANSITIONS[kind].get(current, frozenset())
    return [status for status in TRANSITIONS[kind] if status in allowed]


def offered_statuses(kind: str, current: str) -> list[str]:
    """What a form offers an object in `current`: staying put, or a move the table allows, in the table's order."""
    allowed = TRANSITIONS[kind].get(current, frozenset()) | {current}
    return [status for status in TRANSITIONS[kind] if status in allowed]


def can_transition(kind: str, current: str, target: str) -> bool:
    """Whether the table allows `current` → `target` for objects of `kind`."""
    return target in TRANSITIONS[kind].get(current, frozenset())


def check_transition(kind: str, current: str, target: str) -> None:
    """Raise InvalidTransition unless the table allows `current` → `target`."""
    if not can_transition(kind, current, target):
        allowed = ", ".join(sorted(TRANSITIONS[kind].get(current, ()))) or "none"
        raise InvalidTransition(
            f"A {kind.replace('_', ' ')} cannot go from '{current}' to '{target}' "
            f"(allowed from '{current}': {allowed}).",
            field="status",
        )
