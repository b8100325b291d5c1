"""Two-factor sign-in with time-based one-time codes (TOTP, RFC 6238) and recovery codes
(S40, S42-S44).

A user enrols by scanning a QR code (or typing the key) into an authenticator app and
confirming one code; the key is stored only then. Codes are 6 digits for 30-second steps;
the step before and after the current one are accepted too (clocks drift), and each step
at most once: the last accepted step is stored, and a code for it or an earlier one is
refused, by a conditional UPDATE, so two requests with one code cannot both sign in.
Ten recovery codes are made at enrolment and shown once; each signs in once in place of a
code. They hold 50 random bits each, so a SHA-256 of each is stored (a slow hash buys
nothing against guessing that many bits; S3 limits guesses anyway).

Wrong codes count toward the lock-out like wrong passwords (S3). A reseller can require a
second factor for every reseller user (`set_requirement`); a partner admin can reset a
team member's second factor (`reset_for_member`); anyone, VIP admins included, may enrol.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, update

from vip.extensions import db
from vip.models import RecoveryCode, User
from vip.services import accounts, audit
from vip.services.access import get_team_member_for, require
from vip.services.errors import DomainError

ISSUER = "VIP Reseller Console"
RECOVERY_CODE_COUNT = 10
#: 10 characters of Crockford-like base32 without look-alikes: 50 bits.
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
RECOVERY_CODE_LENGTH = 10
#: Steps either side of the current one that are accepted (RFC 6238, 5.2).
DRIFT_STEPS = 1

WRONG_CODE = _l("The code is wrong or was used already. Try the next code.")


class SecondFactorRefused(DomainError):
    pass


def new_secret() -> str:
    """A random key of 160 bits (RFC 4226 recommends that length), base32."""
    return pyotp.random_base32(32)


def provisioning_uri(*, secret: str, email: str) -> str:
    """The otpauth:// address the QR code carries."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def grouped_secret(secret: str) -> str:
    """The key in groups of four, as authenticator apps show it."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _digits(code: str) -> str:
    return "".join(code.split())


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (of the current one and DRIFT_STEPS either side) whose code `code`
    is, or None. Compared in constant time."""
    code = _digits(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _hash_recovery_code(code: str) -> str:
    normalised = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def _looks_like_recovery_code(code: str) -> bool:
    return any(ch.isalpha() for ch in code)


# -- enrolment ----------------------------------------------------------------------------------


def enrol(*, user: User, secret: str, code: str, now: datetime) -> list[str]:
    """Turns the second factor on with `secret` once `code` proves the app has it.
    Returns the ten recovery codes, to be shown once. Commits."""
    if user.two_factor_enabled:
        raise DomainError(_l("Two-factor sign-in is on already."), field="code")
    try:
        step = _matching_step(secret, code, now)
    except (ValueError, TypeError):  # a secret that is not base32
        step = None
    if step is None:
        raise SecondFactorRefused(
            _l("The code does not match. Check the clock of your phone and try again."),
            field="code",
        )
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id, User.totp_secret.is_(None))
        .values(totp_secret=secret, totp_last_step=step, two_factor_enabled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise DomainError(_l("Two-factor sign-in is on already."), field="code")
    codes = _replace_recovery_codes(user)
    audit.record(actor=user, action="two_factor.enabled", object_type="user", object_id=user.id)
    db.session.commit()
    db.session.refresh(user)
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = _new_recovery_codes()
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_hash_recovery_code(code)) for code in codes
    )
    return codes


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(
        db.select(db.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def required_for(user: User) -> bool:
    """Whether the user's reseller requires a second factor (reseller users only)."""
    return bool(user.is_reseller_user and user.reseller and user.reseller.require_two_factor)


# -- signing in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    user: User
    by_recovery_code: bool


def _claim_code(user: User, code: str, now: datetime) -> str | None:
    """Spends `code` (a TOTP code or a recovery code) if it is valid and unused: how it
    was given ("totp", "recovery_code"), or None. The caller commits."""
    if _looks_like_recovery_code(code):
        spent = db.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _hash_recovery_code(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        return "recovery_code" if spent == 1 else None
    step = _matching_step(user.totp_secret, code, now)
    if step is None:
        return None
    spent = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    return "totp" if spent == 1 else None


def sign_in_with_code(*, user_id: int, session_version: int, code: str, now: datetime) -> User:
    """The second step of a sign-in whose password was right (S40): a valid, unused code
    completes it (`accounts.complete_sign_in`). A wrong or reused code counts toward the
    lock-out (S3); a locked or deactivated account, or one whose sessions were ended
    since the password step, is refused. Commits."""
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != session_version:
        raise accounts.LoginRefused()
    if not user.two_factor_enabled:
        raise accounts.LoginRefused()
    if accounts.is_locked(user, now=now):
        accounts.record_failed_attempt(
            user_id=user.id, now=now, action="two_factor.failed", reason="locked", counts=False
        )
        raise accounts.LoginRefused()
    how = _claim_code(user, code, now)
    if how is None:
        db.session.rollback()
        accounts.record_failed_attempt(
            user_id=user.id, now=now, action="two_factor.failed", reason="wrong_code"
        )
        raise SecondFactorRefused(WRONG_CODE, field="code")
    return accounts.complete_sign_in(user=user, now=now, second_factor=how)


# -- turning it off -----------------------------------------------------------------------------


def _turn_off(member: User) -> None:
    member.totp_secret = None
    member.totp_last_step = None
    member.two_factor_enabled_at = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == member.id))


def check_code(*, user: User, code: str, now: datetime, action: str = "two_factor.failed") -> str:
    """For any step that asks a signed-in (or password-checked) user for their second
    factor, such as an existing VIP admin accepting another customer's invitation: spends
    `code` (TOTP or recovery code, each once) and returns how it was given, or records the
    failure (`action`, toward the lock-out, S3) and raises SecondFactorRefused. A locked
    account is refused. The caller commits on success."""
    if not user.two_factor_enabled:
        raise DomainError(_l("Two-factor sign-in is off already."), field="code")
    if accounts.is_locked(user, now=now):
        raise SecondFactorRefused(accounts.LOGIN_REFUSED, field="code")
    how = _claim_code(user, code, now)
    if how is None:
        db.session.rollback()
        accounts.record_failed_attempt(user_id=user.id, now=now, action=action, reason="wrong_code")
        raise SecondFactorRefused(WRONG_CODE, field="code")
    return how


def disable_own(*, user: User, code: str, now: datetime) -> None:
    """A user turns their own second factor off with a current code (or a recovery code);
    not while their reseller requires it. A wrong code counts toward the lock-out."""
    if not user.two_factor_enabled:
        raise DomainError(_l("Two-factor sign-in is off already."), field="code")
    if required_for(user):
        raise DomainError(
            _l("Your reseller requires two-factor sign-in: it cannot be turned off."),
            field="code",
        )
    check_code(user=user, code=code, now=now)
    _turn_off(user)
    audit.record(actor=user, action="two_factor.disabled", object_type="user", object_id=user.id)
    db.session.commit()


def reset_for_member(*, actor: User, user_id: int) -> User:
    """A partner admin turns a team member's second factor off (a lost phone) and signs
    them out everywhere; they enrol again, at their next sign-in when the reseller
    requires it (S44). Audited."""
    member = get_team_member_for(user=actor, user_id=user_id)
    if member.id == actor.id:
        raise DomainError(_l("Change your own two-factor sign-in on your account page."))
    if not member.two_factor_enabled:
        raise DomainError(_l("%(name)s has no two-factor sign-in to reset.", name=member.name))
    _turn_off(member)
    member.session_version += 1
    audit.record(
        actor=actor,
        action="two_factor.reset",
        object_type="user",
        object_id=member.id,
        details={"email": member.email},
    )
    db.session.commit()
    return member


def set_requirement(*, user: User, required: bool) -> bool:
    """A partner admin requires (or stops requiring) a second factor of every reseller
    user of the reseller, from their next sign-in on (S43). Returns whether it changed."""
    require(user, "reseller.manage")
    reseller = user.reseller
    if reseller.require_two_factor == required:
        return False
    reseller.require_two_factor = required
    audit.record(
        actor=user,
        action="reseller.two_factor_required" if required else "reseller.two_factor_optional",
        object_type="reseller",
        object_id=reseller.id,
    )
    db.session.commit()
    return True
