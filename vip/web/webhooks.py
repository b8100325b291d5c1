"""Webhooks (partner admins, under Settings): the reseller's endpoints, each endpoint's
delivery log, and redelivering an event (docs/webhooks.md)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import SelectChoice, SelectMultipleField, StringField, widgets

from vip import clock
from vip.models import DeliveryStatus
from vip.services import events, webhooks
from vip.services.errors import DomainError
from vip.web.forms import Form
from vip.web.htmx import is_htmx, partial_with_flash_or_redirect, render_page_or_partial
from vip.web.labels import WEBHOOK_EVENT_LABELS

bp = Blueprint("webhooks", __name__, url_prefix="/settings/webhooks")


class EndpointForm(Form):
    """Parses only: the service checks the address and the events (and says why not)."""

    url = StringField(_l("Endpoint URL"))
    description = StringField(_l("Description (optional)"))
    event_types = SelectMultipleField(
        _l("Events"),
        choices=[SelectChoice(kind, kind) for kind in events.EVENT_TYPES],
        validate_choice=False,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )

    def endpoint_input(self) -> webhooks.EndpointInput:
        return webhooks.EndpointInput(
            url=self.url.data or "",
            description=self.description.data or "",
            event_types=list(self.event_types.data or []),
        )

    def add_errors(self, error: DomainError) -> None:
        problems = getattr(error, "errors", None) or {error.field or "url": [error.message]}
        for name, messages in problems.items():
            getattr(self, name).errors = [*getattr(self, name).errors, *map(str, messages)]


def _index(form: EndpointForm, *, secret: str | None = None, created=None, status: int = 200):
    """The page: the endpoints, the form to add one, and a new secret (shown only in this
    one response: it never travels in the session cookie, which is signed, not encrypted)."""
    return render_template(
        "webhooks/index.html",
        rows=webhooks.endpoints_of(user=current_user),
        form=form,
        secret=secret,
        created=created,
        event_labels=WEBHOOK_EVENT_LABELS,
    ), status


@bp.get("")
@login_required
def index():
    return _index(EndpointForm(formdata=None))


@bp.post("")
@login_required
def create():
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            endpoint, secret = webhooks.create_endpoint(
                user=current_user, data=form.endpoint_input(), now=clock.now()
            )
        except DomainError as error:
            form.add_errors(error)
        else:
            flash(_("The endpoint was added. Copy its signing secret now."), "success")
            return _index(EndpointForm(formdata=None), secret=secret, created=endpoint)
    return _index(form, status=422)


@bp.route("/<int:endpoint_id>", methods=["GET", "POST"])
@login_required
def edit(endpoint_id: int):
    endpoint = webhooks.get_endpoint_for(user=current_user, endpoint_id=endpoint_id)
    form = EndpointForm(obj=endpoint)
    if request.method == "POST" and form.validate_on_submit():
        try:
            webhooks.update_endpoint(
                user=current_user, endpoint_id=endpoint.id, data=form.endpoint_input()
            )
        except DomainError as error:
            form.add_errors(error)
        else:
            flash(_("The endpoint was saved."), "success")
            return redirect(url_for("webhooks.index"), 303)
    return render_template(
        "webhooks/edit.html", endpoint=endpoint, form=form, event_labels=WEBHOOK_EVENT_LABELS
    ), (422 if form.errors else 200)


@bp.post("/<int:endpoint_id>/secret")
@login_required
def rotate_secret(endpoint_id: int):
    endpoint, secret = webhooks.rotate_secret(user=current_user, endpoint_id=endpoint_id)
    flash(_("A new signing secret was made; the old one no longer signs. Copy it now."), "success")
    return _index(EndpointForm(formdata=None), secret=secret, created=endpoint)


@bp.post("/<int:endpoint_id>/delete")
@login_required
def delete(endpoint_id: int):
    endpoint = webhooks.delete_endpoint(user=current_user, endpoint_id=endpoint_id, now=clock.now())
    flash(_("The endpoint %(url)s was deleted.", url=endpoint.url), "success")
    if is_htmx():  # the button asked for a confirmation (hx-confirm): go to the list
        response = current_app.response_class(status=200)
        response.headers["HX-Redirect"] = url_for("webhooks.index")
        return response
    return redirect(url_for("webhooks.index"), 303)


@bp.get("/<int:endpoint_id>/deliveries")
@login_required
def deliveries(endpoint_id: int):
    status = request.args.get("status", "")
    log = webhooks.delivery_log(user=current_user, endpoint_id=endpoint_id, status=status)
    return render_page_or_partial(
        "webhooks/deliveries.html",
        "webhooks/_deliveries.html",
        endpoint=log.endpoint,
        items=log.deliveries,
        status=status,
        statuses=[s.value for s in DeliveryStatus],
    )


@bp.post("/deliveries/<int:delivery_id>/redeliver")
@login_required
def redeliver(delivery_id: int):
    category = "success"
    try:
        delivery = webhooks.redeliver(user=current_user, delivery_id=delivery_id)
        message = _(
            "Event %(event)s is queued again: the next delivery run sends it.",
            event=delivery.event.event_id,
        )
    except DomainError as error:
        delivery = webhooks.get_delivery_for(user=current_user, delivery_id=delivery_id)
        message, category = str(error), "error"
    return partial_with_flash_or_redirect(
        "webhooks/_delivery.html",
        {"item": delivery},
        message=message,
        category=category,
        redirect_to=url_for("webhooks.deliveries", endpoint_id=delivery.endpoint_id),
    )
