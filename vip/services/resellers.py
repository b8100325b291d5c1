"""A reseller (tenant) and its profile: created with its first partner admin from the
command line, edited by its partner admins on the Reseller settings page."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from vip.clock import DEFAULT_TIME_ZONE
from vip.extensions import db
from vip.models import Reseller, Role, User
from vip.services import accounts, audit
from vip.services.access import require
from vip.services.errors import DomainError
from vip.services.free_text import check_free_text

NAME_LENGTH = (2, 120)
PHONE_LENGTH = 40


class ResellerInvalid(DomainError):
    """Every problem of a reseller's profile, by field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), field=next(iter(errors)))
        self.errors = errors


@dataclass(frozen=True)
class ResellerProfile:
    name: str
    country: str = "SE"
    time_zone: str = DEFAULT_TIME_ZONE
    contact_email: str | None = None
    contact_phone: str | None = None


def time_zones() -> list[str]:
    return sorted(zone for zone in available_timezones() if "/" in zone)


def _clean(profile: ResellerProfile, *, reseller_id: int | None = None) -> ResellerProfile:
    """The profile trimmed and checked; raises ResellerInvalid with every problem."""
    errors: dict[str, str] = {}
    checked = check_free_text(profile.name, length=NAME_LENGTH)
    name = checked.text
    if checked.problem is not None:
        errors["name"] = checked.problem
    elif name_taken(name, except_id=reseller_id):
        errors["name"] = _l("A reseller with this name already exists.")
    country = (profile.country or "").strip().upper()
    if len(country) != 2 or not country.isalpha():
        errors["country"] = _l("Use the two-letter country code, for example SE.")
    time_zone = (profile.time_zone or "").strip()
    if time_zone not in available_timezones():
        errors["time_zone"] = _l("Choose a time zone, for example Europe/Stockholm.")
    contact_email = (profile.contact_email or "").strip() or None
    if contact_email is not None:
        try:
            validate_email(contact_email, check_deliverability=False)
        except EmailNotValidError:
            errors["contact_email"] = _l("Enter a valid email address.")
    contact_phone = " ".join((profile.contact_phone or "").split()) or None
    if contact_phone is not None and (
        len(contact_phone) > PHONE_LENGTH
        or not all(ch.isdigit() or ch in "+-() " for ch in contact_phone)
    ):
        errors["contact_phone"] = _l(
            "Use up to %(count)d digits, spaces and + - ( ).", count=PHONE_LENGTH
        )
    if errors:
        raise ResellerInvalid(errors)
    return ResellerProfile(name, country, time_zone, contact_email, contact_phone)


def name_taken(name: str, *, except_id: int | None = None) -> bool:
    query = select(Reseller.id).where(func.lower(Reseller.name) == name.strip().lower())
    if except_id is not None:
        query = query.where(Reseller.id != except_id)
    return db.session.scalar(query.limit(1)) is not None


def find_by_name(name: str) -> Reseller | None:
    """The reseller of this name, case-insensitive."""
    return db.session.scalar(
        select(Reseller).where(func.lower(Reseller.name) == name.strip().lower())
    )


@dataclass(frozen=True)
class NewReseller:
    reseller: Reseller
    admin: User
    set_password_link: str | None  # with `invite`: the link mailed to the admin


def create_reseller(
    *,
    profile: ResellerProfile,
    admin_email: str,
    admin_name: str | None,
    language: str,
    password: str | None,
) -> NewReseller:
    """Creates the reseller and its first partner admin in one transaction. With a
    password the admin signs in with it; without, the admin is mailed a single-use link
    to choose one. A duplicate name (any case) or an email that has an account already is
    refused and nothing is written."""
    try:
        profile = _clean(profile)
        if language not in ("sv", "en"):
            raise DomainError(_l("Choose Swedish or English."), field="language")
        reseller = Reseller(
            name=profile.name,
            country=profile.country,
            time_zone=profile.time_zone,
            contact_email=profile.contact_email,
            contact_phone=profile.contact_phone,
        )
        db.session.add(reseller)
        db.session.flush()
        admin_email = admin_email.strip()
        admin = accounts.new_user(
            email=admin_email,
            name=(admin_name or "").strip() or admin_email.split("@")[0],
            password=password if password is not None else secrets.token_urlsafe(32),
            role=Role.RESELLER_ADMIN,
            language=language,
            reseller=reseller,
        )
        audit.record(
            actor=None,
            action="reseller.created",
            reseller_id=reseller.id,
            object_type="reseller",
            object_id=reseller.id,
            details={"name": reseller.name, "admin": admin.email},
        )
        link = None
        if password is None:
            link = accounts.send_set_password_link(user=admin, actor=None)
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    return NewReseller(reseller, admin, link)


def update_profile(*, user: User, profile: ResellerProfile) -> Reseller:
    """The Reseller settings page: a partner admin edits its own reseller; audited with
    what changed."""
    require(user, "reseller.manage")
    reseller = db.session.get(Reseller, user.reseller_id)
    try:
        profile = _clean(profile, reseller_id=reseller.id)
    except DomainError:
        db.session.rollback()
        raise
    changes = {}
    for name in ("name", "country", "time_zone", "contact_email", "contact_phone"):
        before, after = getattr(reseller, name), getattr(profile, name)
        if before != after:
            changes[name] = [before, after]
            setattr(reseller, name, after)
    if changes:
        audit.record(
            actor=user,
            action="reseller.updated",
            reseller_id=reseller.id,
            object_type="reseller",
            object_id=reseller.id,
            details={"changes": changes},
        )
    db.session.commit()
    return reseller


def first_partner_admin(reseller: Reseller) -> User | None:
    """Who a command-line action on the reseller's behalf is recorded as."""
    return db.session.scalar(
        select(User)
        .where(
            User.reseller_id == reseller.id,
            User.role == Role.RESELLER_ADMIN,
            User.active.is_(True),
        )
        .order_by(User.id)
        .limit(1)
    )
