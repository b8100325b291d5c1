"""Display labels and choices that several pages share, localized at render time."""

from __future__ import annotations

from flask_babel import format_decimal, get_locale, ngettext
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice

from vip.models import (
    AuthorizationStatus,
    CustomerStatus,
    DeliveryStatus,
    LicenseType,
    MarketSegment,
    NotificationStatus,
    OrderStatus,
    OrderType,
    ReturnStatus,
    Role,
)
from vip.services import dashboard, events, listing
from vip.services.deadlines import ReminderKind
from vip.services.security_log import SecurityKind

LANGUAGE_CHOICES = [SelectChoice("sv", "Svenska"), SelectChoice("en", "English")]

MARKET_SEGMENT_LABELS = {
    MarketSegment.COMMERCIAL.value: _l("Commercial"),
    MarketSegment.GOVERNMENT.value: _l("Government"),
    MarketSegment.EDUCATION.value: _l("Education"),
}

CUSTOMER_STATUS_LABELS = {
    CustomerStatus.INVITED.value: _l("Invited"),
    CustomerStatus.ACTIVE.value: _l("Active"),
    CustomerStatus.DELAYED.value: _l("Delayed"),
    CustomerStatus.INACTIVE.value: _l("Inactive"),
}

#: Countries a Nordic reseller works with first; the rest follow alphabetically.
PREFERRED_COUNTRIES = ("SE", "NO", "DK", "FI", "IS")


def country_choices() -> list[SelectChoice]:
    territories = get_locale().territories
    codes = sorted(
        (code for code in territories if len(code) == 2 and code.isalpha() and code != "ZZ"),
        key=lambda code: territories[code],
    )
    preferred = [code for code in PREFERRED_COUNTRIES if code in territories]
    ordered = preferred + [code for code in codes if code not in preferred]
    return [SelectChoice(code, territories[code]) for code in ordered]


def market_segment_choices() -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in MARKET_SEGMENT_LABELS.items()]


def country_name(code: str) -> str:
    return get_locale().territories.get(code, code)


LICENSE_TYPE_LABELS = {
    LicenseType.ENTERPRISE.value: _l("Enterprise"),
    LicenseType.TEAM.value: _l("Team"),
}

AUTHORIZATION_STATUS_LABELS = {
    AuthorizationStatus.PENDING.value: _l("Pending"),
    AuthorizationStatus.ORDERED.value: _l("Ordered"),
    AuthorizationStatus.CANCELLED.value: _l("Cancelled"),
}


ORDER_TYPE_LABELS = {
    OrderType.NEW.value: _l("New"),
    OrderType.ADD_ON.value: _l("Add-on"),
    OrderType.RENEWAL.value: _l("Renewal"),
    OrderType.IMPORTED.value: _l("Imported"),
}

ORDER_STATUS_LABELS = {
    OrderStatus.PLACED.value: _l("Placed"),
    OrderStatus.RETURNED.value: _l("Returned"),
}

RETURN_STATUS_LABELS = {
    ReturnStatus.REQUESTED.value: _l("Requested"),
    ReturnStatus.APPROVED.value: _l("Approved"),
    ReturnStatus.REJECTED.value: _l("Rejected"),
}


MAIL_STATUS_LABELS = {
    NotificationStatus.QUEUED.value: _l("Queued"),
    NotificationStatus.SENT.value: _l("Sent"),
    NotificationStatus.FAILED.value: _l("Failed"),
    NotificationStatus.CANCELLED.value: _l("Cancelled"),
}

MAIL_KIND_LABELS = {
    "invitation": _l("VIP invitation"),
    "account_invitation": _l("New account: choose a password"),
    **{kind.value: kind.label for kind in ReminderKind},
}


#: Why a queued mail was cancelled instead of sent: a reminder (vip.services.deadlines)
#: or a VIP invitation (vip.models.customers, S30).
MAIL_CANCEL_REASON_LABELS = {
    "renewed": _l("a renewal was recorded for this anniversary"),
    "superseded": _l("a later reminder of this anniversary is due"),
    "access_removed": _l("access is removed"),
    "invitation_superseded": _l("a newer invitation replaced this one"),
    "invitation_accepted": _l("the VIP admin has accepted the invitation"),
    "invitation_expired": _l("the invitation link has expired"),
}


RENEWAL_STAGE_LABELS = {
    "upcoming": _l("Upcoming"),
    "window_open": _l("Renewal window open"),
    "in_grace": _l("In grace period"),
    "overdue": _l("Overdue, access removed"),
}

#: What the job does to a customer (vip.services.deadlines), as the Outbox preview says it.
DEADLINE_CHANGE_LABELS = {
    "delay": _l("Becomes Delayed: an authorization's order is overdue"),
    "delay_cleared": _l("No longer Delayed: no order is overdue"),
    "access_removed": _l("Access removed: no renewal 30 days after the anniversary"),
    "reminder_queued": _l("Reminder queued"),
    "level_lookback": _l("Discount level raised by the look-back"),
    "commitment_expired": _l("Three-year commitment expired: its third anniversary came"),
    "commitment_noncompliant": _l(
        "Three-year commitment noncompliant: no renewal of a covered anniversary"
    ),
}

#: A three-year commitment's state (vip.models.discount_levels.CommitmentState).
COMMITMENT_STATE_LABELS = {
    "requested": _l("Requested"),
    "committed": _l("Committed"),
    "declined": _l("Declined"),
    "noncompliant": _l("Noncompliant"),
    "expired": _l("Expired"),
}


def level_label(level) -> str:
    """ "Nivå 2" / "Level 2"."""
    return _l("Level %(level)s", level=level)


def license_type_choices() -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in LICENSE_TYPE_LABELS.items()]


ROLE_LABELS = {
    Role.RESELLER_ADMIN.value: _l("Partner admin"),
    Role.RESELLER_SALES.value: _l("Sales"),
    Role.VIP_ADMIN.value: _l("VIP admin"),
}

AUDIT_ACTION_LABELS = {
    "customer.created": _l("Customer created"),
    "invitation.sent": _l("VIP invitation sent"),
    "invitation.accepted": _l("VIP invitation accepted"),
    "user.created": _l("User created"),
    "user.deactivated": _l("User deactivated"),
    "user.reactivated": _l("User reactivated"),
    "user.language_changed": _l("Language changed"),
    "user.password_changed": _l("Password changed"),
    "login.succeeded": _l("Signed in"),
    "login.failed": _l("Failed sign-in"),
    "login.locked_out": _l("Locked out"),
    "session.ended": _l("Signed out"),
    "access.denied_not_found": _l("Access denied"),
    "access.denied_role": _l("Access denied"),
    "authorization.created": _l("Purchase authorization created"),
    "authorization.cancelled": _l("Purchase authorization cancelled"),
    "customer.delayed": _l("Account delayed"),
    "customer.delay_cleared": _l("Account no longer delayed"),
    "customer.access_removed": _l("Access removed"),
    "order.recorded": _l("Order recorded"),
    "return.requested": _l("Return authorization requested"),
    "return.approved": _l("Return authorization approved"),
    "return.rejected": _l("Return authorization rejected"),
    "reminder.queued": _l("Reminder queued"),
    "mail.retried": _l("Mail queued again"),
    "renewal.recorded": _l("Renewal recorded"),
    "customer.reactivated": _l("Access restored by the renewal"),
    "license.assigned": _l("License assigned"),
    "license.unassigned": _l("License unassigned"),
    "user.password_change_failed": _l("Wrong current password"),
    "user.password_set": _l("Password set through a link"),
    "user.set_password_link_sent": _l("Set-password link sent"),
    "two_factor.failed": _l("Wrong two-factor code"),
    "two_factor.enabled": _l("Two-factor sign-in turned on"),
    "two_factor.disabled": _l("Two-factor sign-in turned off"),
    "two_factor.reset": _l("Two-factor sign-in reset"),
    "reseller.two_factor_required": _l("Two-factor sign-in required"),
    "reseller.two_factor_optional": _l("Two-factor sign-in made optional"),
    "request.throttled": _l("Too many requests: refused for a while"),
    "webhook_endpoint.created": _l("Webhook endpoint added"),
    "webhook_endpoint.changed": _l("Webhook endpoint changed"),
    "webhook_endpoint.secret_rotated": _l("Webhook signing secret replaced"),
    "webhook_endpoint.deleted": _l("Webhook endpoint deleted"),
    "webhook.redelivered": _l("Webhook event queued again"),
}

#: What each webhook event type means (the codes themselves are the API's, never translated).
WEBHOOK_EVENT_LABELS = {
    events.CUSTOMER_CREATED: _l("A customer was created or imported"),
    events.CUSTOMER_STATUS_CHANGED: _l(
        "A customer's status changed (invited, active, Delayed, inactive)"
    ),
    events.AUTHORIZATION_CREATED: _l("A purchase authorization was created"),
    events.AUTHORIZATION_CANCELLED: _l("A purchase authorization was cancelled"),
    events.AUTHORIZATION_OVERDUE: _l("A purchase authorization passed its order-due date"),
    events.ORDER_RECORDED: _l("A vendor order was recorded"),
    events.RETURN_REQUESTED: _l("A return authorization was requested"),
    events.RETURN_DECIDED: _l("A return authorization was approved or rejected"),
    events.RENEWAL_RECORDED: _l("A renewal order was recorded"),
    events.REMINDER_SENT: _l("A renewal reminder was mailed to the VIP admin"),
}

DELIVERY_STATUS_LABELS = {
    DeliveryStatus.PENDING.value: _l("Waiting"),
    DeliveryStatus.DELIVERED.value: _l("Delivered"),
    DeliveryStatus.FAILED.value: _l("Failed"),
    DeliveryStatus.CANCELLED.value: _l("Cancelled"),
    "customer.level_changed": _l("Discount level changed"),
    "customer.level_lookback": _l("Discount level raised by the look-back"),
    "commitment.requested": _l("Three-year commitment requested"),
    "commitment.accepted": _l("Three-year commitment accepted"),
    "commitment.declined": _l("Three-year commitment declined"),
    "commitment.noncompliant": _l("Three-year commitment noncompliant"),
    "commitment.expired": _l("Three-year commitment expired"),
}

SECURITY_KIND_LABELS = {
    SecurityKind.SIGN_INS: _l("Sign-ins and sign-outs"),
    SecurityKind.FAILURES: _l("Failures"),
    SecurityKind.LOCK_OUTS: _l("Lock-outs"),
    SecurityKind.SECOND_FACTOR: _l("Two-factor sign-in"),
    SecurityKind.DENIALS: _l("Denials"),
    SecurityKind.THROTTLING: _l("Throttling"),
    SecurityKind.TEAM: _l("Team changes"),
}

SECURITY_REASON_LABELS = {
    "unknown_email": _l("unknown email"),
    "wrong_password": _l("wrong password"),
    "locked": _l("account locked"),
    "inactive": _l("account deactivated"),
    "wrong_code": _l("wrong code"),
    "wrong_current_password": _l("wrong current password"),
    "logout": _l("signed out"),
    "totp": _l("with a code from the app"),
    "recovery_code": _l("with a recovery code"),
}


def security_kind_labels() -> dict[str, str]:
    return {kind.value: label for kind, label in SECURITY_KIND_LABELS.items()}


def security_event_label(action: str) -> str:
    return str(AUDIT_ACTION_LABELS.get(action, action))


def security_event_details(event) -> str:
    """The parts of an event's details a reader needs, in words: why a sign-in failed,
    how it succeeded, whose account a team change was, what was refused."""
    details = event.details or {}
    parts = []
    for key in ("reason", "second_factor"):
        if details.get(key):
            parts.append(str(SECURITY_REASON_LABELS.get(details[key], details[key])))
    for key in ("email", "path", "limit", "address"):
        if details.get(key):
            parts.append(str(details[key]))
    return ", ".join(parts)


def dashboard_section_labels() -> dict[str, str]:
    """Översikt: each section's heading, which also names the customers list it filters."""
    soon, closing, ahead = (
        dashboard.DUE_SOON_DAYS,
        dashboard.RETURN_CLOSING_DAYS,
        dashboard.LOOKAHEAD_DAYS,
    )
    return {
        "order_due": ngettext(
            "Purchase authorizations due within %(num)s day",
            "Purchase authorizations due within %(num)s days",
            soon,
        ),
        "order_overdue": _l("Delayed purchase authorizations"),
        "return_closing": ngettext(
            "Return windows closing within %(num)s day",
            "Return windows closing within %(num)s days",
            closing,
        ),
        "window_opening": ngettext(
            "Renewal windows opening in the next %(num)s day",
            "Renewal windows opening in the next %(num)s days",
            ahead,
        ),
        "anniversary": ngettext(
            "Anniversaries in the next %(num)s day",
            "Anniversaries in the next %(num)s days",
            ahead,
        ),
        "in_grace": _l("Customers in the grace period"),
        "commitment_at_risk": _l("3YC at risk"),
        "failed_mail": _l("Failed mail"),
    }


def count_label(count: int, cap: int | None = None) -> str:
    """A count as shown: exact up to the cap (the lists' COUNT_CAP unless given), "1 000+"
    beyond it."""
    cap = listing.COUNT_CAP if cap is None else cap
    if count > cap:
        return format_decimal(cap) + "+"
    return format_decimal(count)


def labels_context() -> dict:
    return {
        "count_label": count_label,
        "status_label": lambda status: CUSTOMER_STATUS_LABELS.get(str(status), str(status)),
        "segment_label": lambda segment: MARKET_SEGMENT_LABELS.get(str(segment), str(segment)),
        "role_label": lambda role: ROLE_LABELS.get(str(role), str(role)),
        "order_type_label": lambda kind: ORDER_TYPE_LABELS.get(str(kind), str(kind)),
        "order_status_label": lambda status: ORDER_STATUS_LABELS.get(str(status), str(status)),
        "return_status_label": lambda status: RETURN_STATUS_LABELS.get(str(status), str(status)),
        "mail_status_label": lambda status: MAIL_STATUS_LABELS.get(str(status), str(status)),
        "mail_kind_label": lambda kind: MAIL_KIND_LABELS.get(kind, kind),
        "mail_cancel_reason_label": lambda reason: MAIL_CANCEL_REASON_LABELS.get(reason, reason),
        "deadline_change_label": lambda action: DEADLINE_CHANGE_LABELS.get(action, action),
        "license_type_label": lambda kind: LICENSE_TYPE_LABELS.get(str(kind), str(kind)),
        "authorization_status_label": lambda status: AUTHORIZATION_STATUS_LABELS.get(
            str(status), str(status)
        ),
        "audit_action_label": lambda action: AUDIT_ACTION_LABELS.get(action, action),
        "security_event_details": security_event_details,
        "country_name": country_name,
        "webhook_event_label": lambda kind: WEBHOOK_EVENT_LABELS.get(kind, kind),
        "delivery_status_label": lambda status: DELIVERY_STATUS_LABELS.get(
            str(status), str(status)
        ),
        "level_label": level_label,
        "commitment_state_label": lambda state: COMMITMENT_STATE_LABELS.get(str(state), str(state)),
    }
