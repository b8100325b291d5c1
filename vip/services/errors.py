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


class FieldsInvalid(DomainError):
    """Every problem of a submission at once, by field: {"admin_email": [message], ...}."""

    def __init__(self, errors: dict[str, list]):
        first = next(iter(errors))
        super().__init__(errors[first][0], field=first or None)
        self.errors = errors


class FieldChecks:
    """Runs the checks of one submission, each of which raises a DomainError at its field,
    and keeps every problem, so that the page shows them all at once:

        check = FieldChecks()
        name = check(free_text, value, field="name", length=(1, 80))
        check.raise_if_any()  # FieldsInvalid with every problem found
    """

    def __init__(self):
        self.errors: dict[str, list] = {}

    def __call__(self, check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except FieldsInvalid as invalid:
            for field, messages in invalid.errors.items():
                self.errors.setdefault(field, []).extend(messages)
        except DomainError as error:
            self.errors.setdefault(error.field or "", []).append(error.message)
        return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise FieldsInvalid(self.errors)


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
