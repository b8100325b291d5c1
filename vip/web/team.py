"""The reseller's team: a reseller admin adds sales users and deactivates users."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from vip.services import access, accounts, two_factor
from vip.services.errors import DomainError
from vip.web.forms import Form
from vip.web.labels import LANGUAGE_CHOICES

bp = Blueprint("team", __name__, url_prefix="/team")


class SalesUserForm(Form):
    # Name and email are checked by `accounts.add_sales_user`, which says why at the field.
    name = StringField(_l("Name"))
    email = EmailField(_l("Email"))
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    password = PasswordField(_l("Initial password"), validators=[InputRequired(), Length(max=1024)])


@bp.route("", methods=["GET", "POST"])
@login_required
def index():
    access.require(current_user, "team.manage")
    form = SalesUserForm()
    if request.method == "GET":
        form.language.data = current_user.language
    if form.validate_on_submit():
        try:
            member = accounts.add_sales_user(
                actor=current_user,
                email=form.email.data,
                name=form.name.data,
                password=form.password.data,
                language=form.language.data,
            )
        except DomainError as error:
            getattr(form, error.field or "email").errors.append(str(error))
        else:
            flash(_("%(name)s was added as a sales user.", name=member.name), "success")
            return redirect(url_for("team.index"), 303)
    members = accounts.team_of(actor=current_user)
    return render_template("team/index.html", form=form, members=members), (
        422 if form.errors else 200
    )


@bp.post("/<int:user_id>/deactivate")
@login_required
def deactivate(user_id: int):
    try:
        member = accounts.deactivate_user(actor=current_user, user_id=user_id)
        flash(_("%(name)s was deactivated and signed out.", name=member.name), "success")
    except DomainError as error:
        flash(str(error), "error")
    return redirect(url_for("team.index"), 303)


@bp.post("/<int:user_id>/reset-two-factor")
@login_required
def reset_two_factor(user_id: int):
    """A lost phone: the member's second factor is turned off and their sessions end
    (S44); they set it up again, at their next sign-in when the reseller requires it."""
    try:
        member = two_factor.reset_for_member(actor=current_user, user_id=user_id)
        flash(
            _("Two-factor sign-in of %(name)s was reset; they were signed out.", name=member.name),
            "success",
        )
    except DomainError as error:
        flash(str(error), "error")
    return redirect(url_for("team.index"), 303)


@bp.post("/<int:user_id>/reactivate")
@login_required
def reactivate(user_id: int):
    try:
        member = accounts.reactivate_user(actor=current_user, user_id=user_id)
        flash(_("%(name)s was reactivated.", name=member.name), "success")
    except DomainError as error:
        flash(str(error), "error")
    return redirect(url_for("team.index"), 303)
