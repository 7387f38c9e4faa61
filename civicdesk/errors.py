"""Errors every area raises, in one place: the app maps each to one HTTP status (`civicdesk.app`), and the CLI
prints a `UserError` (an `InvalidInput` too) as one line and exits with status 2.
"""


class UserError(Exception):
    """A mistake the user can fix; the message says what is wrong and how to fix it, in one line."""


class InvalidInput(UserError):
    """A value a resident or client gave that cannot be accepted; `field` says which (HTTP 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(LookupError):
    """No record with that reference or id (HTTP 404); the message names what was looked for."""


class Conflict(Exception):
    """Valid input that the current state refuses: no seat left, already cancelled, already booked (HTTP 409).

    The message is the reason to give the resident.
    """
