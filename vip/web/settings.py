"""Reseller settings: a partner admin edits the reseller's profile (its name, the contact
email and phone VIP admins see in the Admin Console and in mail, and its time zone, which
decides "today" for every deadline)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import BooleanField, EmailField, SelectField, StringField

from vip.services import access, resellers
from vip.services import two_factor as two_factor_service
from vip.services.errors import DomainError
from vip.web.forms import Form
from vip.web.labels import country_choices

bp = Blueprint("settings", __name__, url_prefix="/settings")


class ResellerSettingsForm(Form):
    """Parses only: `resellers.update_profile` checks every field and says why at it."""

    name = StringField(_l("Reseller name"))
    country = SelectField(_l("Country"))
    time_zone = SelectField(_l("Time zone"))
    contact_email = EmailField(_l("Contact email for VIP admins"))
    contact_phone = StringField(_l("Contact phone for VIP admins"))


@bp.route("", methods=["GET", "POST"])
@login_required
def index():
    access.require(current_user, "reseller.manage")
    reseller = current_user.reseller
    form = ResellerSettingsForm(obj=reseller)
    form.country.choices = country_choices()
    form.time_zone.choices = [(zone, zone) for zone in resellers.time_zones()]
    if form.validate_on_submit():
        try:
            resellers.update_profile(
                user=current_user,
                profile=resellers.ResellerProfile(
                    name=form.name.data,
                    country=form.country.data,
                    time_zone=form.time_zone.data,
                    contact_email=form.contact_email.data,
                    contact_phone=form.contact_phone.data,
                ),
            )
        except resellers.ResellerInvalid as error:
            for name, message in error.errors.items():
                getattr(form, name).errors.append(str(message))
        except DomainError as error:
            form.name.errors.append(str(error))
        else:
            flash(_("The reseller settings were saved."), "success")
            return redirect(url_for("settings.index"), 303)
    return render_template(
        "settings/index.html",
        form=form,
        reseller=reseller,
        two_factor_form=TwoFactorRequirementForm(required=reseller.require_two_factor),
    ), (422 if form.errors else 200)


class TwoFactorRequirementForm(Form):
    required = BooleanField(_l("Require two-factor sign-in for every user of the reseller"))


@bp.post("/two-factor")
@login_required
def two_factor():
    """The partner admin's switch: every reseller user needs a second factor (S43)."""
    form = TwoFactorRequirementForm()
    if form.validate_on_submit():
        changed = two_factor_service.set_requirement(
            user=current_user, required=bool(form.required.data)
        )
        if changed and form.required.data:
            flash(
                _("Two-factor sign-in is now required, from each user's next sign-in."),
                "success",
            )
        elif changed:
            flash(_("Two-factor sign-in is now optional."), "success")
    return redirect(url_for("settings.index"), 303)
