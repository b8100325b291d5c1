"""Accepting the VIP invitation: no login needed, the link is the credential."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from vip import clock
from vip.services import invitations
from vip.services.errors import DomainError
from vip.services.invitations import InvitationUnusable
from vip.web.forms import Form
from vip.web.throttling import throttled, token_account

bp = Blueprint("invitations", __name__, url_prefix="/invitations")


class AcceptInvitationForm(Form):
    password = PasswordField(
        _l("Choose a password"), validators=[InputRequired(), Length(max=1024)]
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


@bp.route("/<token>", methods=["GET", "POST"])
@throttled("invitation_accept", account=token_account)
def accept(token: str):
    invitation = invitations.find_by_token(token)
    today = clock.today_in(
        invitation.customer.reseller.time_zone if invitation is not None else None
    )
    try:
        invitations.check_usable(invitation, today=today)
    except InvitationUnusable as error:
        return render_template("invitations/unusable.html", message=str(error)), 410
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            admin = invitations.accept_invitation(
                token=token, password=form.password.data, today=today, now=clock.now()
            )
        except InvitationUnusable as error:
            return render_template("invitations/unusable.html", message=str(error)), 410
        except DomainError as error:
            getattr(form, error.field or "password").errors.append(str(error))
        else:
            flash(
                _(
                    "Welcome, %(name)s. Sign in with %(email)s and your new password.",
                    name=admin.name,
                    email=admin.email,
                ),
                "success",
            )
            return redirect(url_for("auth.login"), 303)
    status = 422 if form.errors else 200
    return render_template("invitations/accept.html", form=form, invitation=invitation), status
