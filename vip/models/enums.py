"""How a Python StrEnum is stored: a VARCHAR with a CHECK, the same on every database."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def enum_column(enum_class: type[StrEnum], *, name: str | None = None) -> Enum:
    """`name` names the CHECK constraint; give one when a table has two columns of a type."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=True,
        length=20,
        name=name or enum_class.__name__.lower(),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
