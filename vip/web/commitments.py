"""Recording a customer's three-year commitment on VIP information: the request, and
the vendor's acceptance or refusal. Each a dialog (its own page without JavaScript)."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import DateField, IntegerField
from wtforms.validators import Optional

from vip import clock
from vip.services import access, commitments, discount_levels
from vip.services.authorizations import AuthorizationInvalid
from vip.services.errors import DomainError
from vip.web.forms import Form, attach_errors
from vip.web.htmx import partial_with_flash_or_redirect, render_dialog, render_form_errors

bp = Blueprint("commitments", __name__)


class RequestForm(Form):
    minimum_quantity = IntegerField(_l("Committed minimum (licenses)"), validators=[Optional()])
    requested_on = DateField(_l("Requested on"), validators=[Optional()])


class AnswerForm(Form):
    answer_date = DateField(_l("Date"), validators=[Optional()])


#: The service's field names -> the answer form's one date field.
ANSWER_FIELDS = {"starts_on": "answer_date", "decided_on": "answer_date"}


def _customer(customer_id: int):
    return access.get_customer_for(
        user=current_user, customer_id=customer_id, action="commitments.manage"
    )


def _render(customer, form, *, answering: bool, invalid: bool = False):
    render = render_form_errors if invalid else render_dialog
    commitment = commitments.current_commitment(customer) if answering else None
    if answering and (commitment is None or commitment.state != "requested"):
        form.form_errors.append(_("No three-year commitment waits for the vendor's answer."))
        commitment = None
    endpoint = "commitments.answer" if answering else "commitments.new_request"
    return render(
        "commitments/page.html",
        "commitments/_dialog.html",
        customer=customer,
        form=form,
        answering=answering,
        commitment=commitment,
        title=_("Record the vendor's answer") if answering else _("Record a 3YC request"),
        post_url=url_for(endpoint, customer_id=customer.id),
        today=clock.today_for(current_user),
    )


def _done(customer, message: str):
    today = clock.today_for(current_user)
    return partial_with_flash_or_redirect(
        "commitments/_changed.html",
        lambda: {
            "customer": customer,
            "standing": discount_levels.standing(customer=customer, today=today),
        },
        message=message,
        redirect_to=url_for("customers.tab", customer_id=customer.id, tab="info"),
        closes_dialog=True,
    )


@bp.route("/customers/<int:customer_id>/commitment/request", methods=["GET", "POST"])
@login_required
def new_request(customer_id: int):
    customer = _customer(customer_id)
    if request.method == "GET":
        form = RequestForm(formdata=None)
        form.requested_on.data = clock.today_for(current_user)
        return _render(customer, form, answering=False)
    form = RequestForm()
    if form.validate_on_submit():
        try:
            commitment = commitments.request_commitment(
                user=current_user,
                customer_id=customer.id,
                today=clock.today_for(current_user),
                minimum_quantity=form.minimum_quantity.data,
                requested_on=form.requested_on.data,
            )
        except AuthorizationInvalid as invalid:
            attach_errors(form, invalid.errors)
        except DomainError as error:
            form.form_errors.append(str(error))
        else:
            return _done(
                customer,
                _(
                    "The three-year commitment request of %(count)s licenses was recorded.",
                    count=commitment.minimum_quantity,
                ),
            )
    elif form.minimum_quantity.raw_data and form.minimum_quantity.errors:
        form.minimum_quantity.errors = [_("Enter a whole number of licenses.")]
    return _render(customer, form, answering=False, invalid=True)


@bp.route("/customers/<int:customer_id>/commitment/answer", methods=["GET", "POST"])
@login_required
def answer(customer_id: int):
    customer = _customer(customer_id)
    if request.method == "GET":
        form = AnswerForm(formdata=None)
        form.answer_date.data = clock.today_for(current_user)
        return _render(customer, form, answering=True)
    form = AnswerForm()
    accepted = request.form.get("answer", "") == "accept"
    if form.validate_on_submit():
        today = clock.today_for(current_user)
        try:
            if accepted:
                commitments.accept_commitment(
                    user=current_user,
                    customer_id=customer.id,
                    today=today,
                    starts_on=form.answer_date.data,
                )
                message = _("The three-year commitment was recorded as accepted.")
            else:
                commitments.decline_commitment(
                    user=current_user,
                    customer_id=customer.id,
                    today=today,
                    decided_on=form.answer_date.data,
                )
                message = _("The three-year commitment was recorded as declined.")
        except AuthorizationInvalid as invalid:
            attach_errors(form, {ANSWER_FIELDS.get(k, k): v for k, v in invalid.errors.items()})
        except DomainError as error:
            form.form_errors.append(str(error))
        else:
            return _done(customer, message)
    return _render(customer, form, answering=True, invalid=True)
