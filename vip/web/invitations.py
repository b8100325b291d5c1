"""Accepting the VIP invitation: the link is the credential, bound to the invited
email (S55-S58). An email without an account chooses a password; an email with a VIP
admin account signs in with its password here and the customer is added to it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from vip import clock
from vip.services import invitations
from vip.services.errors import DomainError
from vip.services.invitations import InvitationRefused, InvitationUnusable
from vip.web.forms import Form
from vip.web.throttling import throttled, token_account

bp = Blueprint("invitations", __name__, url_prefix="/invitations")


class AcceptInvitationForm(Form):
    """A new account: the password the VIP admin chooses."""

    password = PasswordField(
        _l("Choose a password"), validators=[InputRequired(), Length(max=1024)]
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class AcceptWithAccountForm(Form):
    """The VIP admin account the invited email has: its password, and its second factor
    when it has one (checked by the service, which says why at the field)."""

    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=1024)])
    code = StringField(_l("Code"), validators=[Optional(), Length(max=32)])


def _unusable(message, status: int):
    return render_template("invitations/unusable.html", message=message), status


@bp.route("/<token>", methods=["GET", "POST"])
@throttled("invitation_accept", account=token_account)
def accept(token: str):
    invitation = invitations.find_by_token(token)
    today = clock.today_in(
        invitation.customer.reseller.time_zone if invitation is not None else None
    )
    signed_in = current_user._get_current_object() if current_user.is_authenticated else None
    try:
        invitations.check_usable(invitation, today=today)
        account = invitations.account_for(invitation=invitation, signed_in=signed_in)
    except InvitationUnusable as error:
        return _unusable(str(error), 410)
    except InvitationRefused as error:
        return _unusable(str(error), 403)
    form = AcceptWithAccountForm() if account else AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            if account is None:
                admin = invitations.accept_invitation(
                    token=token,
                    password=form.password.data,
                    today=today,
                    now=clock.now(),
                    signed_in=signed_in,
                )
            else:
                admin = invitations.accept_with_account(
                    token=token,
                    password=form.password.data,
                    code=form.code.data or "",
                    today=today,
                    now=clock.now(),
                    signed_in=signed_in,
                )
        except InvitationUnusable as error:
            return _unusable(str(error), 410)
        except InvitationRefused as error:
            return _unusable(str(error), 403)
        except DomainError as error:
            (getattr(form, error.field or "", None) or form.password).errors.append(str(error))
        else:
            return _accepted(admin, invitation, existing_account=account is not None)
    status = 422 if form.errors else 200
    return (
        render_template(
            "invitations/accept.html", form=form, invitation=invitation, account=account
        ),
        status,
    )


def _accepted(admin, invitation, *, existing_account: bool):
    company = invitation.customer.company_name
    if current_user.is_authenticated:  # the same VIP admin, signed in already
        flash(_("%(company)s was added to your Admin Console.", company=company), "success")
        return redirect(url_for("admin_console.index", customer_id=invitation.customer_id), 303)
    if existing_account:
        message = _(
            "%(company)s was added to your account. Sign in with %(email)s to administer it.",
            company=company,
            email=admin.email,
        )
    else:
        message = _(
            "Welcome, %(name)s. Sign in with %(email)s and your new password.",
            name=admin.name,
            email=admin.email,
        )
    flash(message, "success")
    return redirect(url_for("auth.login"), 303)
