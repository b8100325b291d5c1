"""Signing in and out, the second factor, passwords (S3-S8, S40-S45, S47)."""

from __future__ import annotations

from datetime import UTC, datetime

import segno
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from vip import clock
from vip.extensions import db
from vip.models import User
from vip.services import accounts
from vip.services import two_factor as two_factor_service
from vip.services.errors import DomainError
from vip.web.forms import Form
from vip.web.htmx import redirect_to_login
from vip.web.navigation import safe_next
from vip.web.security import ENROLMENT_REQUIRED
from vip.web.throttling import (
    pending_second_factor_account,
    posted_email,
    signed_in_account,
    throttled,
)

bp = Blueprint("auth", __name__)


def load_user(session_id: str) -> User | None:
    """The session holds "id:version"; an old version means the session was ended (S5)."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    # With the user's reseller (its time zone and change counter serve most pages): one
    # statement for both.
    user = db.session.get(User, int(user_id), options=[joinedload(User.reseller)])
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def unauthorized():
    """No session: the login page, or for htmx a redirect instruction (S14)."""
    return redirect_to_login()


class LoginForm(Form):
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=1024)])
    next = HiddenField()


def start_session(user: User, *, language: str | None) -> None:
    """A fresh session for the signed-in user (S4), keeping the chosen language."""
    session.clear()  # a new session and CSRF token after login (S4)
    login_user(user)
    now = datetime.now(UTC).timestamp()
    session["started_at"] = now
    session["seen_at"] = now
    session.permanent = True
    if language:
        session["language"] = language


#: How long the second step of a sign-in may wait for its code after the password.
SECOND_FACTOR_MINUTES = 5


@bp.route("/login", methods=["GET", "POST"])
@throttled("sign_in", account=posted_email)
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(
                email=form.email.data, password=form.password.data, now=clock.now()
            )
        except DomainError as refused:
            error = str(refused)
        else:
            language = session.get("language")
            target = safe_next(form.next.data) or url_for("home.index")
            if user.two_factor_enabled:
                # The password was right; the sign-in completes with a code (S40).
                session.clear()
                session["two_factor_pending"] = {
                    "user": user.id,
                    "version": user.session_version,
                    "at": clock.now().timestamp(),
                    "next": target,
                }
                if language:
                    session["language"] = language
                return redirect(url_for("auth.second_factor"), 303)
            must_enrol = two_factor_service.required_for(user)
            start_session(user, language=language)
            if must_enrol:
                # The reseller requires a second factor: enrolment is the only page (S43).
                session[ENROLMENT_REQUIRED] = True
                return redirect(url_for("auth.two_factor"), 303)
            return redirect(target, 303)
    elif request.method == "POST":
        error = str(accounts.LOGIN_REFUSED)
    return render_template("auth/login.html", form=form, error=error), (400 if error else 200)


class CodeForm(Form):
    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=32)])


def _pending_second_factor() -> dict | None:
    pending = session.get("two_factor_pending")
    if not isinstance(pending, dict) or not isinstance(pending.get("user"), int):
        return None
    age = clock.now().timestamp() - float(pending.get("at", 0))
    if not 0 <= age <= SECOND_FACTOR_MINUTES * 60:
        return None
    return pending


@bp.route("/login/code", methods=["GET", "POST"])
@throttled("second_factor", account=pending_second_factor_account)
def second_factor():
    """The second step of a sign-in (S40): a code from the authenticator app, or a
    recovery code."""
    pending = _pending_second_factor()
    if pending is None:
        session.pop("two_factor_pending", None)
        flash(_("Sign in again: the time for the code ran out."), "error")
        return redirect(url_for("auth.login"), 303)
    form = CodeForm()
    if form.validate_on_submit():
        try:
            user = two_factor_service.sign_in_with_code(
                user_id=pending["user"],
                session_version=int(pending.get("version", 0)),
                code=form.code.data,
                now=clock.now(),
            )
        except two_factor_service.SecondFactorRefused as error:
            form.code.errors.append(str(error))
        except DomainError as refused:
            session.pop("two_factor_pending", None)
            form = LoginForm()
            return render_template("auth/login.html", form=form, error=str(refused)), 400
        else:
            start_session(user, language=session.get("language"))
            return redirect(safe_next(pending.get("next")) or url_for("home.index"), 303)
    status = 422 if form.errors else 200
    return render_template("auth/second_factor.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    accounts.end_sessions(user=current_user, reason="logout")
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), 303)


class PasswordForm(Form):
    current_password = PasswordField(
        _l("Current password"), validators=[InputRequired(), Length(max=1024)]
    )
    password = PasswordField(_l("New password"), validators=[InputRequired(), Length(max=1024)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@throttled("password_change", account=signed_in_account)
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                user=current_user,
                current_password=form.current_password.data,
                new_password=form.password.data,
                now=clock.now(),
            )
        except DomainError as error:
            getattr(form, error.field or "password").errors.append(str(error))
        else:
            # Every other session is over; this one starts again with the new version.
            start_session(current_user._get_current_object(), language=session.get("language"))
            flash(_("Your password was changed. Other sessions were signed out."), "success")
            return redirect(url_for("home.index"), 303)
    return render_template("auth/password.html", form=form), (422 if form.errors else 200)


class SetPasswordForm(Form):
    password = PasswordField(
        _l("Choose a password"), validators=[InputRequired(), Length(max=1024)]
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


@bp.route("/account/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """A new account's single-use link (`vip create-reseller --invite`): no session
    needed, the link is the credential, and it dies with the password it replaces."""
    try:
        account = accounts.user_for_set_password(token)
    except accounts.SetPasswordLinkUnusable as error:
        return render_template("auth/set_password.html", message=str(error)), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            account = accounts.set_password_with_link(token=token, password=form.password.data)
        except accounts.SetPasswordLinkUnusable as error:
            return render_template("auth/set_password.html", message=str(error)), 410
        except DomainError as error:
            form.password.errors.append(str(error))
        else:
            flash(
                _("Your password is set. Sign in with %(email)s.", email=account.email),
                "success",
            )
            return redirect(url_for("auth.login"), 303)
    status = 422 if form.errors else 200
    return render_template("auth/set_password.html", form=form, account=account), status


# -- The second factor of one's own account (S40, S42-S44) ---------------------------------

#: The key being enrolled, until a code confirms it (the user sees it on the page anyway).
ENROLMENT_SECRET = "two_factor_enrolment_secret"


def qr_code_svg(uri: str, *, title: str) -> Markup:
    """The otpauth address as a QR code, drawn here as inline SVG (no outside service)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=4, title=title, dark="#000")
    return Markup(svg)  # noqa: S704 - segno's own markup; the title is escaped by segno


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor():
    """Turn on two-factor sign-in: scan the QR code (or type the key), confirm a code, and
    note the recovery codes, shown this once."""
    user = current_user._get_current_object()
    if user.two_factor_enabled:
        return render_template(
            "auth/two_factor.html",
            user=user,
            form=CodeForm(),
            remaining=two_factor_service.remaining_recovery_codes(user),
            required=two_factor_service.required_for(user),
        )
    secret = session.get(ENROLMENT_SECRET) or two_factor_service.new_secret()
    session[ENROLMENT_SECRET] = secret
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = two_factor_service.enrol(
                user=user, secret=secret, code=form.code.data, now=clock.now()
            )
        except DomainError as error:
            form.code.errors.append(str(error))
        else:
            session.pop(ENROLMENT_SECRET, None)
            session.pop(ENROLMENT_REQUIRED, None)
            return render_template("auth/recovery_codes.html", codes=codes)
    uri = two_factor_service.provisioning_uri(secret=secret, email=user.email)
    return render_template(
        "auth/two_factor.html",
        user=user,
        form=form,
        qr_code=qr_code_svg(uri, title=_("QR code for your authenticator app")),
        manual_key=two_factor_service.grouped_secret(secret),
        required=session.get(ENROLMENT_REQUIRED, False),
    ), (422 if form.errors else 200)


@bp.post("/account/two-factor/disable")
@login_required
def disable_two_factor():
    form = CodeForm()
    if form.validate_on_submit():
        try:
            two_factor_service.disable_own(
                user=current_user._get_current_object(), code=form.code.data, now=clock.now()
            )
        except DomainError as error:
            flash(str(error), "error")
        else:
            flash(_("Two-factor sign-in is off."), "success")
    else:
        flash(_("Enter a code from your authenticator app."), "error")
    return redirect(url_for("auth.two_factor"), 303)
