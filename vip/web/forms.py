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
