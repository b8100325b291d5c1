"""API-nycklar / API keys (partner admins): create a named key, read or read and write,
shown once; revoke it. The API itself is vip/web/api (docs/api.md)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import Optional

from vip import clock
from vip.models import ApiKeyScope
from vip.services import access, api_keys
from vip.services.errors import DomainError
from vip.web.forms import Form
from vip.web.htmx import is_htmx, render_with_flash

bp = Blueprint("api_keys", __name__, url_prefix="/settings/api-keys")

SCOPE_CHOICES = [
    SelectChoice(ApiKeyScope.READ.value, _l("Read")),
    SelectChoice(ApiKeyScope.WRITE.value, _l("Read and write")),
]


class ApiKeyForm(Form):
    # The service checks both (with its messages); the form only parses.
    name = StringField(_l("Name"), validators=[Optional()])
    scope = RadioField(
        _l("Access"), choices=SCOPE_CHOICES, default=ApiKeyScope.READ.value, validate_choice=False
    )


def _render(
    *,
    form: ApiKeyForm | None = None,
    secret: str | None = None,
    created=None,
    message: str | None = None,
    category: str = "success",
    status: int = 200,
):
    """The page, or for htmx its keys panel with the message out of band. A new key's
    secret is rendered into this one response (never put in the session for a redirect);
    without JavaScript a revocation redirects (303) with its message."""
    context = {
        "keys": api_keys.keys_of(user=current_user),
        "form": form or ApiKeyForm(formdata=None),
        "secret": secret,
        "created": created,
    }
    if is_htmx():
        html = render_with_flash(
            "api_keys/_keys.html", message=message, category=category, **context
        )
        return html, status
    if message and secret is None and status == 200:
        flash(message, category)
        return redirect(url_for("api_keys.index"), 303)
    if message:
        flash(message, category)
    return render_template("api_keys/index.html", **context), status


@bp.get("")
@login_required
def index():
    access.require(current_user, "api_keys.manage")
    return _render()


@bp.post("")
@login_required
def create():
    access.require(current_user, "api_keys.manage")
    form = ApiKeyForm()
    form.validate()
    if not form.errors:
        try:
            key, secret = api_keys.create_key(
                user=current_user,
                name=form.name.data or "",
                scope=form.scope.data or "",
                now=clock.now(),
            )
        except DomainError as error:
            getattr(form, error.field or "name").errors.append(str(error))
        else:
            return _render(
                secret=secret,
                created=key,
                message=_(
                    "The key %(name)s was created. Copy it now: it is shown only once.",
                    name=key.name,
                ),
            )
    return _render(form=form, status=422)


@bp.post("/<int:key_id>/revoke")
@login_required
def revoke(key_id: int):
    try:
        key = api_keys.revoke_key(user=current_user, key_id=key_id, now=clock.now())
    except DomainError as error:
        return _render(message=str(error), category="error")
    return _render(message=_("The key %(name)s was revoked. It no longer works.", name=key.name))
