"""Recording the vendor order (Registrera order), the Orders tab's return requests
(Begär returauktorisering) and the Returns queue."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import DateField, IntegerField, StringField, TextAreaField
from wtforms.validators import Optional

from vip import clock
from vip.models import AuthorizationStatus, ReturnStatus
from vip.services import access, authorizations, discount_levels, orders
from vip.services.authorizations import AuthorizationInvalid
from vip.services.errors import DomainError
from vip.web.forms import Form, attach_errors, posted_quantities
from vip.web.htmx import partial_with_flash_or_redirect, render_dialog, render_form_errors

bp = Blueprint("orders", __name__)


# -- Registrera order ---------------------------------------------------------------------


class OrderForm(Form):
    # Required, 6 to 20 letters and digits, not recorded before: the service checks.
    vendor_order_number = StringField(_l("Vendor order number"))
    order_date = DateField(_l("Order date"), validators=[Optional()])
    duration_months = IntegerField(_l("Duration in months"), validators=[Optional()])


def _proposal(customer, order_date):
    if order_date is None:
        return None, None
    try:
        proposal = orders.propose_duration(
            customer=customer, order_date=order_date, today=clock.today_for(current_user)
        )
        return proposal, None
    except DomainError as error:
        return None, str(error)


def _order_hint(pa):
    """The level the customer has and the one this order reaches."""
    quantities: dict[int, int] = {}
    for line in pa.lines:
        quantities[line.product_id] = quantities.get(line.product_id, 0) + line.quantity
    return discount_levels.order_hint(
        customer=pa.customer, quantities=quantities, today=clock.today_for(current_user)
    )


def _order_dialog(pa, form, *, invalid=False):
    proposal, proposal_error = _proposal(pa.customer, form.order_date.data)
    render = render_form_errors if invalid else render_dialog
    return render(
        "orders/record.html",
        "orders/_order_dialog.html",
        pa=pa,
        customer=pa.customer,
        form=form,
        proposal=proposal,
        proposal_error=proposal_error,
        today=clock.today_for(current_user),
        hint=_order_hint(pa),
    )


def _pending_authorization(pa_id: int):
    access.require(current_user, "orders.record")
    return authorizations.get_for(user=current_user, pa_id=pa_id)


@bp.get("/authorizations/<int:pa_id>/order/new")
@login_required
def record_order_form(pa_id: int):
    pa = _pending_authorization(pa_id)
    if pa.status != AuthorizationStatus.PENDING:
        flash(_("%(number)s is no longer pending.", number=pa.number), "error")
        return redirect(url_for("customers.tab", customer_id=pa.customer_id, tab="plans"))
    form = OrderForm(formdata=None)
    form.order_date.data = clock.today_for(current_user)
    proposal, _error = _proposal(pa.customer, form.order_date.data)
    form.duration_months.data = proposal.months if proposal else None
    return _order_dialog(pa, form)


@bp.post("/authorizations/<int:pa_id>/order/proposal")
@login_required
def order_proposal(pa_id: int):
    """The order date changed: a new proposal, shown with its calculation."""
    pa = _pending_authorization(pa_id)
    form = OrderForm()
    form.validate()
    proposal, proposal_error = _proposal(pa.customer, form.order_date.data)
    if proposal is not None:
        form.duration_months.data = proposal.months
        form.duration_months.raw_data = None  # show the new proposal, not the posted value
    return render_template(
        "orders/_proposal.html",
        pa=pa,
        customer=pa.customer,
        form=form,
        proposal=proposal,
        proposal_error=proposal_error,
        oob=False,
    )


@bp.post("/authorizations/<int:pa_id>/order")
@login_required
def record_order(pa_id: int):
    pa = _pending_authorization(pa_id)
    form = OrderForm()
    if form.validate_on_submit():
        today = clock.today_for(current_user)
        try:
            order = orders.record_order(
                user=current_user,
                pa_id=pa.id,
                today=today,
                vendor_order_number=form.vendor_order_number.data,
                order_date=form.order_date.data,
                duration_months=form.duration_months.data,
            )
        except AuthorizationInvalid as invalid:
            attach_errors(form, invalid.errors)
        except DomainError as error:
            form.form_errors.append(str(error))
        else:
            message = _(
                "Order %(number)s was recorded for %(pa)s. The licenses are now the customer's; "
                "the return window closes on %(date)s.",
                number=order.vendor_order_number,
                pa=pa.number,
                date=format_date(orders.return_window_closes_on(order), "long"),
            )
            return partial_with_flash_or_redirect(
                "orders/_recorded.html",
                lambda: _recorded(pa_id, order, today),
                message=message,
                redirect_to=url_for("customers.tab", customer_id=pa.customer_id, tab="orders"),
                closes_dialog=True,
            )
    return _order_dialog(pa, form, invalid=True)


def _recorded(pa_id: int, order, today) -> dict:
    """The htmx answer to a recorded order: on the customer page the authorization's row,
    counters and status out of band. From the dashboard there is no Plans tab to update:
    the dialog closes, the flash says it, and vip:changed refreshes the dashboard's
    sections."""
    pa = authorizations.get_for(user=current_user, pa_id=pa_id)
    customer = pa.customer
    return {
        "pa": pa,
        "customer": customer,
        "today": today,
        "cancellable": set(),
        "order_ids": {pa.id: order.id},
        "on_customer_page": urlsplit(request.headers.get("HX-Current-URL", "")).path
        != url_for("home.index"),
        "counts": authorizations.counts_by_customer(customer_ids=[customer.id], today=today).get(
            customer.id, authorizations.AuthorizationCounts()
        ),
    }


# -- Begär returauktorisering ----------------------------------------------------------------


class ReturnForm(Form):
    # Required and at most 500 characters: the service checks both, with the lines.
    reason = TextAreaField(_l("Reason"), validators=[Optional()])


class DecisionForm(Form):
    # At most 500 characters: the service checks.
    comment = StringField(_l("Comment"))


def _quantities() -> dict[int, int | None]:
    """Line-<id> fields of the return dialog; a non-number answers as an error later."""
    return posted_quantities(request.form, "line")


def _return_dialog(order, form, *, invalid=False, values=None, line_errors=None):
    today = clock.today_for(current_user)
    render = render_form_errors if invalid else render_dialog
    return render(
        "orders/return.html",
        "orders/_return_dialog.html",
        order=order,
        customer=order.customer,
        form=form,
        today=today,
        lines=orders.returnable_lines(order=order),
        window_open=orders.return_window_open(order, today),
        closes_on=orders.return_window_closes_on(order),
        values=values or {},
        line_errors=line_errors or {},
    )


@bp.get("/orders/<int:order_id>/return/new")
@login_required
def return_form(order_id: int):
    access.require(current_user, "returns.request")
    order = orders.get_order_for(user=current_user, order_id=order_id)
    return _return_dialog(order, ReturnForm(formdata=None))


@bp.get("/authorizations/<int:pa_id>/return")
@login_required
def return_for_authorization(pa_id: int):
    """An ordered authorization's "Begär returauktorisering" leads to its order's return."""
    pa = authorizations.get_for(user=current_user, pa_id=pa_id)
    order_id = orders.order_id_for_authorization(pa)
    if order_id is None:
        return redirect(url_for("customers.tab", customer_id=pa.customer_id, tab="plans"))
    return redirect(url_for("orders.return_form", order_id=order_id))


@bp.post("/orders/<int:order_id>/returns")
@login_required
def request_return(order_id: int):
    access.require(current_user, "returns.request")
    order = orders.get_order_for(user=current_user, order_id=order_id)
    form = ReturnForm()
    quantities = _quantities()
    line_errors: dict[int, list[str]] = {}
    if form.validate_on_submit():
        try:
            item = orders.request_return(
                user=current_user,
                order_id=order.id,
                today=clock.today_for(current_user),
                quantities=quantities,
                reason=form.reason.data or "",
            )
        except AuthorizationInvalid as invalid:
            for name, messages in invalid.errors.items():
                if name.startswith("line-"):
                    line_errors[int(name[5:])] = [str(m) for m in messages]
                elif name == "reason":
                    form.reason.errors = [str(m) for m in messages]
                else:
                    form.form_errors.extend(str(m) for m in messages)
        except DomainError as error:
            form.form_errors.append(str(error))
        else:
            message = _(
                "Return authorization requested for order %(number)s. A partner admin "
                "approves or rejects it in Returns.",
                number=order.vendor_order_number,
            )
            return partial_with_flash_or_redirect(
                "orders/_return_requested.html",
                lambda: {
                    "order": item.order,
                    "customer": item.order.customer,
                    "today": clock.today_for(current_user),
                    "returns": orders.returns_by_order(orders=[item.order]).get(item.order_id, []),
                },
                message=message,
                redirect_to=url_for("customers.tab", customer_id=order.customer_id, tab="orders"),
                closes_dialog=True,
            )
    values = {line_id: request.form.get(f"line-{line_id}", "") for line_id in quantities}
    return _return_dialog(order, form, invalid=True, values=values, line_errors=line_errors)


# -- The Returns queue -------------------------------------------------------------------------


@bp.get("/returns")
@login_required
def returns_queue():
    status = request.args.get("status", ReturnStatus.REQUESTED.value)
    items = orders.return_queue(user=current_user, status=status)
    return render_template(
        "orders/returns.html",
        items=items,
        status=status,
        statuses=[s.value for s in ReturnStatus],
        can_decide=access.can(current_user, "returns.approve"),
    )


@bp.post("/returns/<int:return_id>/<any(approve, reject):decision>")
@login_required
def decide_return(return_id: int, decision: str):
    form = DecisionForm()
    form.validate()
    category = "success"
    try:
        item = orders.decide_return(
            user=current_user,
            return_id=return_id,
            approve=decision == "approve",
            comment=form.comment.data or "",
            now=clock.now(),
        )
        message = (
            _("The return was approved and the licenses were taken back.")
            if item.status == ReturnStatus.APPROVED
            else _("The return was rejected.")
        )
    except DomainError as error:
        message, category = str(error), "error"
    item = orders.get_return_for(user=current_user, return_id=return_id)
    return partial_with_flash_or_redirect(
        "orders/_return_queue_row.html",
        {"item": item, "can_decide": access.can(current_user, "returns.approve")},
        message=message,
        category=category,
        redirect_to=url_for("orders.returns_queue"),
    )
