"""The base form of every page: WTForms validation plus a refusal of control characters,
which no field of ours accepts (PostgreSQL refuses NUL outright)."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Form(FlaskForm):
    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        for field in self:
            if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
                field.errors = [*field.errors, _l("Remove the control characters.")]
                valid = False
        return valid


WHOLE_NUMBER = re.compile(r"-?[0-9]{1,9}")


def posted_quantities(data, prefix: str, *, not_a_number: int | None = -1) -> dict[int, int | None]:
    """`<prefix>-<id>` fields of a posted form: blank is None, a whole number is itself, and
    anything else is `not_a_number` (which the service refuses at the field)."""
    pattern = re.compile(re.escape(prefix) + r"-([0-9]{1,18})")
    quantities: dict[int, int | None] = {}
    for key, value in data.items():
        match = pattern.fullmatch(key)
        if match is None:
            continue
        text = value.strip()
        if text == "":
            quantities[int(match[1])] = None
        elif WHOLE_NUMBER.fullmatch(text):
            quantities[int(match[1])] = int(text)
        else:
            quantities[int(match[1])] = not_a_number
    return quantities


def attach_errors(form, errors: dict) -> None:
    """Puts a service's field errors on the form's fields; the rest on the form."""
    for name, messages in errors.items():
        field = getattr(form, name, None) if name in form._fields else None
        texts = [str(message) for message in messages]
        if field is None:
            form.form_errors.extend(texts)
        else:
            field.errors = [*field.errors, *texts]
