"""Login and logout (S3-S8)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from vip import clock
from vip.extensions import db
from vip.models import User
from vip.services import accounts
from vip.services.errors import DomainError
from vip.web.forms import Form
from vip.web.htmx import redirect_to_login
from vip.web.navigation import safe_next

bp = Blueprint("auth", __name__)


def load_user(session_id: str) -> User | None:
    """The session holds "id:version"; an old version means the session was ended (S5)."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
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


@bp.route("/login", methods=["GET", "POST"])
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
            session.clear()  # a new session and CSRF token after login (S4)
            login_user(user)
            now = datetime.now(UTC).timestamp()
            session["started_at"] = now
            session["seen_at"] = now
            session.permanent = True
            if language:
                session["language"] = language
            return redirect(safe_next(form.next.data) or url_for("home.index"), 303)
    elif request.method == "POST":
        error = str(accounts.LOGIN_REFUSED)
    return render_template("auth/login.html", form=form, error=error), (400 if error else 200)


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
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                user=current_user,
                current_password=form.current_password.data,
                new_password=form.password.data,
            )
        except DomainError as error:
            getattr(form, error.field or "password").errors.append(str(error))
        else:
            # Every other session is over; this one starts again with the new version.
            user = current_user._get_current_object()
            language = session.get("language")
            session.clear()
            login_user(user)
            now = datetime.now(UTC).timestamp()
            session.update(started_at=now, seen_at=now)
            session.permanent = True
            if language:
                session["language"] = language
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
