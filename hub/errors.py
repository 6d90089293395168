"""Domain errors raised by the hub's services; each entry point maps them to its own form once."""

from statehub.errors import ErrorKind, ServiceError


class HubError(ServiceError):
    """Base class of every error a hub service raises for a rule the caller broke."""

    code = "hub_error"


class InvalidTransition(HubError):
    """A status change the transition table does not allow."""

    code = "invalid_transition"
    kind = ErrorKind.CONFLICT


class ValidationFailed(HubError):
    """Input that breaks a domain rule (an unknown status word, an option not offered...)."""

    code = "invalid"


class NotFound(HubError):
    """A key or id that names no object."""

    code = "not_found"
    kind = ErrorKind.NOT_FOUND


class Conflict(HubError):
    """A write that collides with existing state (a duplicate key, a sweep already running)."""

    code = "conflict"
    kind = ErrorKind.CONFLICT


class ContradictsWorkplan(Conflict):
    """A status change that the workstream's workplan file contradicts, made without saying so (`despite_workplan`)."""

    code = "contradicts_workplan"
