"""The base of every error a service raises for a rule its caller broke, whichever app it is in.

Each app names its own errors (`hub.errors`, `events.errors`) as subclasses of `ServiceError`
with a `kind`; each entry point maps the kinds to its own form once: the API's exception handler
to 400/404/409 (`statehub.api.exceptions`), MCP to a tool error, the admin to a message, the
commands to a message and an exit code.
"""

import enum


class ErrorKind(enum.Enum):
    """What kind of mistake the caller made, which decides how an entry point answers it."""

    INVALID = "invalid"  # input that breaks a rule: API 400
    NOT_FOUND = "not_found"  # a key or id that names nothing: API 404
    CONFLICT = "conflict"  # a change the current state does not allow: API 409


class ServiceError(Exception):
    """A rule the caller broke, with a message for people and a stable `code` for programs."""

    code = "error"
    kind = ErrorKind.INVALID

    def __init__(self, message: str, *, field: str | None = None, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or ({field: [message]} if field else {})
