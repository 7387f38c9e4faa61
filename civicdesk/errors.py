"""Errors caused by the person running civicdesk (bad settings, bad files, a busy port).

The CLI prints their message as one line and exits with status 2; they never reach a user as a traceback.
"""


class UserError(Exception):
    """A mistake the user can fix; the message says what is wrong and how to fix it, in one line."""
