"""Password policy (S2) and hashing (S1)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from vip.services.errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 128
#: zxcvbn's score: below 3 means a common or easily guessed password.
MIN_STRENGTH = 3


def check_password_policy(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """Length 12..128, anything printable (spaces, Unicode), no composition rules,
    and not common or built from the user's own name or email, at any length (S29): a
    long password made of one repeated word or of the email is as weak as a short one."""
    if len(password) < MIN_LENGTH:
        raise DomainError(
            _l("Use at least %(count)d characters.", count=MIN_LENGTH), field="password"
        )
    if len(password) > MAX_LENGTH:
        raise DomainError(
            _l("Use at most %(count)d characters.", count=MAX_LENGTH), field="password"
        )
    inputs = [part for value in user_inputs for part in (value, *value.replace("@", " ").split())]
    # zxcvbn's cost grows with length: about 0.3 s for 128 random characters, at most.
    if zxcvbn(password, user_inputs=inputs, max_length=MAX_LENGTH)["score"] < MIN_STRENGTH:
        raise DomainError(
            _l(
                "This password is too common or easy to guess. "
                "A few unrelated words make a strong one."
            ),
            field="password",
        )


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["VIP_PASSWORD_HASH"])


def password_matches(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


# A real hash to check against when the email is unknown, so that both cases cost the same.
_DUMMY_HASH = generate_password_hash("unknown-user-dummy-password", method="scrypt")


def burn_time_for_unknown_user(password: str) -> None:
    check_password_hash(_DUMMY_HASH, password)
