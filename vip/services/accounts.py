"""Signing in, lock-out, sessions and team users (S1-S5, S22, S41, S45)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, or_, select, update

from vip.database import reading_then_release, release_transaction
from vip.extensions import db
from vip.links import external_url
from vip.mail import render_mail
from vip.models import Customer, Reseller, Role, User, VipAdminCustomer
from vip.services import audit, outbox
from vip.services.access import get_team_member_for, require
from vip.services.errors import DomainError
from vip.services.free_text import free_text
from vip.services.passwords import (
    burn_time_for_unknown_user,
    check_password_policy,
    hash_password,
    password_matches,
)

#: A person's name (a user's, a customer's VIP admin's), as free text (S33).
PERSON_NAME_LENGTH = (1, 120)
EMAIL_LENGTH = 254
#: The languages a user or a VIP admin contact can have: the console's two.
LANGUAGES = ("sv", "en")


def email_address(value: str | None, *, field: str = "email") -> str:
    """An email address as the console keeps it: trimmed, at most 254 characters, of a
    valid form (no DNS lookup). Raises a DomainError at `field`; the forms only parse."""
    email = (value or "").strip()
    if not email:
        raise DomainError(_l("Enter an email address."), field=field)
    if len(email) > EMAIL_LENGTH:
        raise DomainError(_l("Use at most %(count)d characters.", count=EMAIL_LENGTH), field=field)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise DomainError(_l("Enter a valid email address."), field=field) from None
    return email


def language_code(value: str | None, *, field: str = "language") -> str:
    if value not in LANGUAGES:
        raise DomainError(_l("Choose Swedish or English."), field=field)
    return value


LOGIN_REFUSED = _l("The email or password is wrong, or the account is locked for a while.")


class LoginRefused(DomainError):
    def __init__(self):
        super().__init__(LOGIN_REFUSED)


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def user_by_id(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def authenticate(*, email: str, password: str, now: datetime) -> User:
    """The first factor. Returns the user, or raises LoginRefused with one message for
    every failure (S3). The password is checked with no transaction open, before any write
    (S41): the user is read in a transaction that takes no lock, and a failure is then
    recorded in one short write. A user with a second factor is returned without being
    signed in: `two_factor.sign_in_with_code` completes the sign-in (S40); the failure
    count is reset only then, so a known password does not buy more guesses at the code."""
    with reading_then_release():
        user = find_user_by_email(email)
        found = None if user is None else _SignInFacts.of(user)
    if found is None:
        burn_time_for_unknown_user(password)
        audit.record(
            actor=None,
            actor_label=email.strip()[:254] or "?",
            action="login.failed",
            details={"reason": "unknown_email"},
        )
        db.session.commit()
        raise LoginRefused()
    matches = password_matches(found.password_hash, password)
    locked = found.locked_at(now)
    if locked or not matches or not found.active:
        reason = "locked" if locked else ("wrong_password" if not matches else "inactive")
        record_failed_attempt(
            user_id=found.user_id,
            now=now,
            action="login.failed",
            reason=reason,
            counts=not locked and not matches,
        )
        raise LoginRefused()
    user = db.session.get(User, found.user_id)
    if user.two_factor_enabled:
        return user
    return complete_sign_in(user=user, now=now, second_factor=None)


@dataclass(frozen=True)
class _SignInFacts:
    """What the password check needs, copied out of the transaction that read it."""

    user_id: int
    password_hash: str
    active: bool
    locked_until: datetime | None

    @classmethod
    def of(cls, user: User) -> _SignInFacts:
        return cls(user.id, user.password_hash, user.active, user.locked_until)

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def is_locked(user: User, *, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def record_failed_attempt(
    *,
    user_id: int,
    now: datetime,
    action: str,
    reason: str,
    counts: bool = True,
    ends_sessions: bool = False,
) -> bool:
    """One short write (S3, S41): audits a refused credential (`action`, `reason`) and,
    when it `counts`, adds it to the user's failures; the one that reaches the threshold
    locks the account for VIP_LOCKOUT_MINUTES and, with `ends_sessions`, signs the user
    out everywhere (a wrong current password in a signed-in session, S45). The count is
    an atomic UPDATE, so concurrent failures are all counted. Returns whether this attempt
    locked the account. Commits."""
    user = db.session.get(User, user_id)
    locked_now = False
    if counts:
        failures = db.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        threshold = current_app.config["VIP_LOCKOUT_THRESHOLD"]
        if failures >= threshold:
            values = {
                "failed_logins": 0,
                "locked_until": now + timedelta(minutes=current_app.config["VIP_LOCKOUT_MINUTES"]),
            }
            if ends_sessions:
                values["session_version"] = User.session_version + 1
            locked_now = (
                db.session.execute(
                    update(User)
                    .where(User.id == user_id, User.failed_logins >= threshold)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                ).rowcount
                == 1
            )
        if locked_now:
            audit.record(
                actor=user, action="login.locked_out", object_type="user", object_id=user_id
            )
    audit.record(
        actor=user,
        action=action,
        object_type="user",
        object_id=user_id,
        details={"reason": reason},
    )
    db.session.commit()
    return locked_now


def complete_sign_in(*, user: User, now: datetime, second_factor: str | None) -> User:
    """The sign-in succeeded (every factor given): resets the failures, unless the account
    was locked or deactivated meanwhile (then LoginRefused). Commits."""
    signed_in = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            User.active.is_(True),
            or_(User.locked_until.is_(None), User.locked_until <= now),
        )
        .values(failed_logins=0, locked_until=None, last_login_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if signed_in != 1:
        db.session.rollback()
        raise LoginRefused()
    details = {"second_factor": second_factor} if second_factor else None
    audit.record(
        actor=user,
        action="login.succeeded",
        object_type="user",
        object_id=user.id,
        details=details,
    )
    db.session.commit()
    return user


def end_sessions(*, user: User, reason: str) -> None:
    """Invalidates every session of this user, server-side (S5)."""
    user.session_version += 1
    audit.record(
        actor=user,
        action="session.ended",
        object_type="user",
        object_id=user.id,
        details={"reason": reason},
    )
    db.session.commit()


def set_language(*, user: User, language: str) -> None:
    if language not in current_app.config["VIP_LANGUAGES"]:
        raise DomainError(_l("Unknown language."), field="language")
    if user.language != language:
        user.language = language
        audit.record(
            actor=user,
            action="user.language_changed",
            object_type="user",
            object_id=user.id,
            details={"language": language},
        )
        db.session.commit()


#: A partner admin's answer for an email that has an account outside the team: it does
#: not say whose, so that adding a user does not tell a reseller which addresses other
#: tenants' accounts use (S32). The command line, the operator's, says it plainly.
EMAIL_NOT_AVAILABLE = _l(
    "This email address cannot be used for a new account. Use another one, such as the "
    "person's address at your company."
)


def _ensure_email_free(email: str) -> None:
    if find_user_by_email(email) is not None:
        raise DomainError(_l("A user with this email already exists."), field="email")


def new_user(
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    language: str = "sv",
    reseller: Reseller | None = None,
    customer: Customer | None = None,
    actor: User | None = None,
) -> User:
    """A reseller user of `reseller`, or a VIP admin administering `customer`."""
    email = email_address(email)
    language = language_code(language)
    if (role == Role.VIP_ADMIN) != (customer is not None) or (reseller is None) == (
        customer is None
    ):
        raise DomainError(_l("A VIP admin belongs to a customer, a reseller user to a reseller."))
    name = free_text(name, field="name", length=PERSON_NAME_LENGTH)
    _ensure_email_free(email)
    check_password_policy(password, user_inputs=(email, name))
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password),
        role=role,
        language=language,
        reseller=reseller,
    )
    db.session.add(user)
    db.session.flush()
    if customer is not None:  # a VIP admin's first customer; more may follow (invitations)
        db.session.add(VipAdminCustomer(user_id=user.id, customer_id=customer.id))
    audit.record(
        actor=actor,
        action="user.created",
        customer=customer,
        reseller_id=reseller.id if reseller else None,
        object_type="user",
        object_id=user.id,
        details={"email": email, "role": role.value},
    )
    return user


def create_user(**kwargs) -> User:
    """`new_user` in its own transaction."""
    try:
        user = new_user(**kwargs)
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    return user


def add_sales_user(*, actor: User, email: str, name: str, password: str, language: str) -> User:
    """A sales user in the actor's team. An email of someone in the team is named as such;
    any other taken email gets EMAIL_NOT_AVAILABLE, the same whoever has it (S32)."""
    require(actor, "team.manage")
    email = email_address(email)
    taken = find_user_by_email(email)
    if taken is not None and taken.reseller_id == actor.reseller_id:
        raise DomainError(
            _l("%(name)s in your team already has this email.", name=taken.name), field="email"
        )
    if taken is not None:
        audit.record(
            actor=actor,
            action="user.add_refused",
            details={"email": email.strip(), "reason": "email_not_available"},
        )
        db.session.commit()
        raise DomainError(EMAIL_NOT_AVAILABLE, field="email")
    return create_user(
        email=email,
        name=name,
        password=password,
        role=Role.RESELLER_SALES,
        language=language,
        reseller=actor.reseller,
        actor=actor,
    )


def team_of(*, actor: User) -> list[User]:
    require(actor, "team.manage")
    return list(
        db.session.scalars(
            select(User).where(User.reseller_id == actor.reseller_id).order_by(User.name)
        )
    )


def deactivate_user(*, actor: User, user_id: int) -> User:
    member = get_team_member_for(user=actor, user_id=user_id)
    if member.id == actor.id:
        raise DomainError(_l("You cannot deactivate yourself."))
    if not member.active:
        raise DomainError(_l("%(name)s is already deactivated.", name=member.name))
    member.active = False
    member.session_version += 1
    audit.record(
        actor=actor,
        action="user.deactivated",
        object_type="user",
        object_id=member.id,
        details={"email": member.email},
    )
    db.session.commit()
    return member


def reactivate_user(*, actor: User, user_id: int) -> User:
    member = get_team_member_for(user=actor, user_id=user_id)
    if member.active:
        raise DomainError(_l("%(name)s is already active.", name=member.name))
    member.active = True
    member.failed_logins = 0
    member.locked_until = None
    audit.record(
        actor=actor,
        action="user.reactivated",
        object_type="user",
        object_id=member.id,
        details={"email": member.email},
    )
    db.session.commit()
    return member


def change_password(*, user: User, current_password: str, new_password: str, now: datetime) -> None:
    """Sets a new password and ends every session of the user, this one included (S5).
    A wrong current password counts toward the lock-out and is audited; the one that locks
    the account also signs it out everywhere, and a locked account changes nothing (S45).
    The current password is checked with no transaction open (S41)."""
    password_hash, locked = user.password_hash, is_locked(user, now=now)
    user_id, email, name = user.id, user.email, user.name
    release_transaction()
    matches = password_matches(password_hash, current_password)
    if locked or not matches:
        record_failed_attempt(
            user_id=user_id,
            now=now,
            action="user.password_change_failed",
            reason="locked" if locked else "wrong_current_password",
            counts=not locked,
            ends_sessions=True,
        )
        if locked:
            raise DomainError(LOGIN_REFUSED, field="current_password")
        raise DomainError(_l("The current password is wrong."), field="current_password")
    if current_password == new_password:
        raise DomainError(_l("Choose a password you have not used here."), field="password")
    check_password_policy(new_password, user_inputs=(email, name))
    new_hash = hash_password(new_password)
    user.password_hash = new_hash
    user.session_version += 1
    audit.record(
        actor=user,
        action="user.password_changed",
        object_type="user",
        object_id=user.id,
        details={"sessions_ended": True},
    )
    db.session.commit()


# -- A new account's single-use set-password link ------------------------------------------------


class SetPasswordLinkUnusable(DomainError):
    pass


def _set_password_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="vip-set-password")


def _password_fingerprint(user: User) -> str:
    """Changes with the password: a link stops working once it has been used."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def set_password_token(user: User) -> str:
    return _set_password_serializer().dumps({"user": user.id, "pw": _password_fingerprint(user)})


def set_password_link(user: User) -> str:
    return external_url("auth.set_password", token=set_password_token(user))


def user_for_set_password(token: str) -> User:
    """The user a set-password link is for, while it is unused, unexpired and the account
    active; otherwise SetPasswordLinkUnusable."""
    days = int(current_app.config["VIP_INVITATION_VALID_DAYS"])
    try:
        data = _set_password_serializer().loads(token, max_age=days * 86400)
    except SignatureExpired as error:
        raise SetPasswordLinkUnusable(
            _l("This link has expired. Ask a partner admin for a new one.")
        ) from error
    except BadSignature as error:
        raise SetPasswordLinkUnusable(_l("This link is not valid.")) from error
    user = db.session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("pw") != _password_fingerprint(user):
        raise SetPasswordLinkUnusable(
            _l("This link has been used already. Sign in with your email and password.")
        )
    return user


def send_set_password_link(*, user: User, actor: User | None) -> str:
    """Queues the mail with the link for the user to choose a password (valid as long as
    a VIP invitation). The caller commits. Returns the link."""
    link = set_password_link(user)
    mail = render_mail(
        "account_invitation",
        language=user.language,
        user=user,
        reseller=user.reseller,
        link=link,
        valid_days=int(current_app.config["VIP_INVITATION_VALID_DAYS"]),
    )
    outbox.queue(
        kind="account_invitation",
        cycle_key=f"account:{user.id}:{secrets.token_hex(8)}",
        recipient=user.email,
        language=user.language,
        mail=mail,
    )
    audit.record(
        actor=actor,
        action="user.set_password_link_sent",
        reseller_id=user.reseller_id,
        object_type="user",
        object_id=user.id,
        details={"email": user.email},
    )
    return link


def set_password_with_link(*, token: str, password: str) -> User:
    """Sets the password through the link, once: the link dies with the old password."""
    user = user_for_set_password(token)
    check_password_policy(password, user_inputs=(user.email, user.name))
    old_hash = user.password_hash
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == old_hash)
        .values(password_hash=hash_password(password), session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise SetPasswordLinkUnusable(
            _l("This link has been used already. Sign in with your email and password.")
        )
    audit.record(
        actor=user,
        action="user.password_set",
        reseller_id=user.reseller_id,
        object_type="user",
        object_id=user.id,
        details={"through": "link"},
    )
    db.session.commit()
    db.session.refresh(user)
    return user
