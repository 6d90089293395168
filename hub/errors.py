"""Domain errors raised by services; each entry point maps them to its own form once."""


class HubError(Exception):
    """Base class of every error a service raises for a rule the caller broke."""

    code = "hub_error"

    def __init__(self, message: str, *, field: str | None = None, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or ({field: [message]} if field else {})


class InvalidTransition(HubError):
    """A status change the transition table does not allow."""

    code = "invalid_transition"


class ValidationFailed(HubError):
    """Input that breaks a domain rule (an unknown status word, an option not offered...)."""

    code = "invalid"


class NotFound(HubError):
    """A key or id that names no object."""

    code = "not_found"


class Conflict(HubError):
    """A write that collides with existing state (a duplicate key, a sweep already running)."""

    code = "conflict"
