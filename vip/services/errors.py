"""Errors the services raise. Messages are lazy translations, rendered in the reader's language."""

from __future__ import annotations


class DomainError(Exception):
    """A broken business rule; `field` names the form field the message belongs to."""

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class StateConflict(DomainError):
    """The object is in a state that refuses the action (cancelling an ordered purchase
    authorization, recording the order of a cancelled one): the API answers 409."""


class NotVisible(LookupError):
    """The object does not exist for this user (another tenant's, or none): answers 404."""


class PermissionDenied(Exception):
    """The user's role may not do this inside their own tenant: answers 403."""

    def __init__(self, action: str):
        super().__init__(action)
        self.action = action


class LocalizedNumber:
    """A number inside a lazy message: grouped in the reader's locale when shown."""

    def __init__(self, number: int):
        self.number = number

    def __str__(self) -> str:
        from flask_babel import format_decimal

        return format_decimal(self.number)

    def __repr__(self) -> str:
        return str(self.number)


class LocalizedDate:
    """A date inside a lazy message: formatted in the reader's locale when shown."""

    def __init__(self, day):
        self.day = day

    def __str__(self) -> str:
        from flask_babel import format_date

        return format_date(self.day, "long")

    def __repr__(self) -> str:
        return self.day.isoformat()
